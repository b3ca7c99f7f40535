"""Stage 8, publish: dataset repos written to a local folder in Hub layout or pushed to the Hub.

A local repo under `--out` is exactly what a push would upload, and loads with
`datasets.load_dataset(path, config_name)`. Both the local write and the push are all-or-nothing:
repos are staged in full first, then swapped into place (locally) or sent as one commit (Hub).
The repos themselves (data files and cards) are built in `tasks/cards.py`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

from tasks.cards import RAW_DATA, DatasetRepo


class PublishError(RuntimeError):
    """The datasets cannot be written or pushed; nothing was changed."""


def local_path(out_dir: Path, repo_id: str) -> Path:
    """`DIR/<namespace>/<name>`, refusing ids that would leave DIR."""
    root = out_dir.resolve()
    target = (root / repo_id).resolve()
    if root not in target.parents or any(part in {"", ".", ".."} for part in repo_id.split("/")):
        raise PublishError(f"repo id '{repo_id}' would write outside {out_dir}")
    return target


def _previous(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def recover_local(target: Path) -> None:
    """Undo what a process killed while writing `target` left behind.

    A kill between the two renames of a swap leaves the previous version as `.<name>.old` and no
    `<name>`: put it back. Staging folders of a killed write are never complete: delete them.
    """
    previous = _previous(target)
    if previous.is_dir():
        if target.exists():
            shutil.rmtree(previous, ignore_errors=True)
        else:
            previous.rename(target)
    if target.parent.is_dir():
        for stale in target.parent.glob(f".{target.name}.staging-*"):
            shutil.rmtree(stale, ignore_errors=True)


def write_local(repos: list[DatasetRepo], out_dir: Path) -> list[Path]:
    """Write every repo under `out_dir` all-or-nothing: stage all, then swap each into place."""
    targets = [local_path(out_dir, repo.repo_id) for repo in repos]
    for target in targets:
        recover_local(target)
    staged: list[tuple[Path, Path]] = []
    try:
        for repo, target in zip(repos, targets, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
            staged.append((stage, target))
            (stage / "README.md").write_text(repo.card, encoding="utf-8")
            for name, content in repo.files.items():
                (stage / name).parent.mkdir(parents=True, exist_ok=True)
                (stage / name).write_bytes(content)
    except OSError as exc:
        for stage, _ in staged:
            shutil.rmtree(stage, ignore_errors=True)
        raise PublishError(f"cannot write under {out_dir}: {exc.strerror or exc}") from exc
    for stage, target in staged:
        old = _previous(target)
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        stage.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    return targets


def _is_data_file(path_in_repo: str, folder: str) -> bool:
    return path_in_repo.startswith(f"{folder}/train-") and path_in_repo.endswith(".parquet")


def read_local_file(out_dir: Path, repo_id: str, folder: str) -> pl.DataFrame | None:
    """A config's published Parquet data under `out_dir`, or None when it is not there (yet)."""
    target = local_path(out_dir, repo_id)
    recover_local(target)
    paths = sorted((target / folder).glob("train-*.parquet"))
    return pl.concat([pl.read_parquet(path) for path in paths], how="diagonal_relaxed") if paths else None


def read_local_raw(out_dir: Path, repo_id: str) -> pl.DataFrame | None:
    """The raw rows already published under `out_dir`, or None before the first run."""
    return read_local_file(out_dir, repo_id, RAW_DATA)


def hub_api() -> HfApi:
    """The Hub client; huggingface_hub finds the token (HF_TOKEN or a stored login) by itself."""
    return HfApi()


def read_hub_file(repo_id: str, folder: str) -> pl.DataFrame | None:
    """A config's published Parquet data on the Hub, or None when the repo or the data does not exist yet."""
    api = hub_api()
    try:
        names = [
            name for name in api.list_repo_files(repo_id, repo_type="dataset") if _is_data_file(name, folder)
        ]
        paths = [api.hf_hub_download(repo_id, name, repo_type="dataset") for name in sorted(names)]
    except (RepositoryNotFoundError, EntryNotFoundError):
        return None
    except Exception as exc:
        raise PublishError(f"cannot read {folder}/ of {repo_id} from the Hub ({type(exc).__name__})") from exc
    return pl.concat([pl.read_parquet(path) for path in paths], how="diagonal_relaxed") if paths else None


def read_hub_raw(repo_id: str) -> pl.DataFrame | None:
    """The raw rows already on the Hub, or None when the repo does not exist yet."""
    return read_hub_file(repo_id, RAW_DATA)


def _can_write(token: dict[str, Any], namespace: str) -> bool:
    """Whether a token (as `whoami` describes it) may create and commit to repos under `namespace`."""
    role = token.get("role")
    if role == "write":
        return True
    if role != "fineGrained":
        return False
    scoped = (token.get("fineGrained") or {}).get("scoped") or []
    return any(
        (scope.get("entity") or {}).get("name") == namespace
        and "repo.write" in (scope.get("permissions") or [])
        for scope in scoped
    ) or "repo.write" in ((token.get("fineGrained") or {}).get("global") or [])


def check_push_access(namespace: str) -> str:
    """The user the token belongs to; fails before any LLM call when no token may write to `namespace`."""
    hint = "set HF_TOKEN to a token with write access, or run `hf auth login`"
    try:
        me = hub_api().whoami()
    except Exception as exc:
        raise PublishError(f"--push needs a Hugging Face token ({type(exc).__name__}): {hint}") from exc
    token = (me.get("auth") or {}).get("accessToken") or {}
    if token and not _can_write(token, namespace):
        raise PublishError(
            f"--push: the Hugging Face token cannot write to '{namespace}' ({token.get('role')}): {hint}"
        )
    return me["name"]


def push(repos: list[DatasetRepo], private: bool, message: str) -> list[str]:
    """One `create_commit` per repo with card and files; a failed commit leaves the previous version."""
    api = hub_api()
    urls = []
    for repo in repos:
        try:
            api.create_repo(repo.repo_id, repo_type="dataset", private=private, exist_ok=True)
            operations: list = [CommitOperationAdd("README.md", repo.card.encode("utf-8"))]
            operations += [CommitOperationAdd(name, content) for name, content in repo.files.items()]
            # The previous version's data files (other content hashes) go in the same commit.
            stale = [
                name
                for name in api.list_repo_files(repo.repo_id, repo_type="dataset")
                if name.endswith(".parquet") and name not in repo.files
            ]
            operations += [CommitOperationDelete(name) for name in stale]
            info = api.create_commit(repo.repo_id, operations, commit_message=message, repo_type="dataset")
        except Exception as exc:
            raise PublishError(
                f"push to {repo.repo_id} failed ({type(exc).__name__}); the previous version is intact"
            ) from exc
        urls.append(
            str(getattr(info, "commit_url", None) or f"https://huggingface.co/datasets/{repo.repo_id}")
        )
    return urls
