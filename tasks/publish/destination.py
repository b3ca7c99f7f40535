"""Stage 8, publish: dataset repos written to a local folder in Hub layout or pushed to the Hub.

A local repo under `--out` is exactly what a push would upload, and loads with
`datasets.load_dataset(path, config_name)`. Both the local write and the push are all-or-nothing:
repos are staged in full first, then swapped into place (locally) or sent as one commit (Hub).
`Destination` is where one language's repos go; it publishes only the repos whose content differs.
The repos themselves (data files and cards) are built in `tasks/publish/cards.py`; the Hub side is
`tasks/publish/hub.py`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from filelock import FileLock, Timeout

from tasks.publish.errors import PublishError
from tasks.publish.repos import RAW_DATA, DatasetRepo, repo_manifest


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


def read_local_file(out_dir: Path, repo_id: str, folder: str) -> pl.DataFrame | None:
    """A config's published Parquet data under `out_dir`, or None when it is not there (yet)."""
    target = local_path(out_dir, repo_id)
    recover_local(target)
    paths = sorted((target / folder).glob("train-*.parquet"))
    return pl.concat([pl.read_parquet(path) for path in paths], how="diagonal_relaxed") if paths else None


def read_local_raw(out_dir: Path, repo_id: str) -> pl.DataFrame | None:
    """The raw rows already published under `out_dir`, or None before the first run."""
    return read_local_file(out_dir, repo_id, RAW_DATA)


def local_differs(out_dir: Path, repo: DatasetRepo) -> bool:
    """Whether the copy under `out_dir` is not exactly `repo` (missing, other files or other bytes)."""
    target = local_path(out_dir, repo.repo_id)
    recover_local(target)
    if not target.is_dir():
        return True
    present = {str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()}
    wanted = repo_manifest(repo)
    if present != set(wanted):
        return True
    return any((target / name).read_bytes() != content for name, content in wanted.items())


class RunLockedError(PublishError):
    """Another run of the same language is writing to the same destination."""


@contextmanager
def run_lock(path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on `path` for one run; a second run stops at once with one line.

    The lock is an OS file lock (released by the kernel when a process dies, even by SIGKILL), so a
    killed run never leaves a stale lock behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunLockedError(
            f"another run is already working on {what} (lock {path}); it was left alone: "
            "run again when it has finished"
        ) from None
    try:
        yield
    finally:
        lock.release()


@dataclass
class Destination:
    """Where one language's repos are published: a folder in Hub layout (`--out`) or the Hub (`--push`).

    With the Hub, the commit each repo was read at is remembered (`heads`; None: the repo did not
    exist), so every push goes on top of exactly what this run saw, and a comparison of content hashes
    decides whether a repo needs a commit at all.
    """

    out: Path
    to_hub: bool = False
    private: bool = True
    heads: dict[str, str | None] = field(default_factory=dict)

    def describe(self, repo_id: str) -> str:
        return f"{repo_id} on the Hub" if self.to_hub else str(self.out / repo_id)

    def read(self, repo_id: str, folder: str, published_after: Sequence[str] = ()) -> pl.DataFrame | None:
        """A config's published data, or None before the first publish.

        On the Hub, the heads of `published_after` (repos built from this one's data and published
        after it, like the curated repo after raw) are read too, all before the data: later commits
        go on top of them, so a newer version by another writer is refused, never overwritten. They
        are read in the reverse order of publishing: another writer commits raw, then curated, so
        the curated head this run holds is never newer than the raw data it builds the curated repo
        from.
        """
        if not self.to_hub:
            return read_local_file(self.out, repo_id, folder)
        from tasks.publish.hub import hub_head, read_hub_file

        for later in reversed(published_after):
            self.heads[later] = hub_head(later)
        head = self.heads[repo_id] = hub_head(repo_id)
        return read_hub_file(repo_id, folder, head) if head else None

    def read_bytes(self, repo_id: str, path: str) -> bytes | None:
        """One published file (a recipe, the last run's facts), at the commit `read` saw; None if absent."""
        if not self.to_hub:
            target = local_path(self.out, repo_id) / path
            return target.read_bytes() if target.is_file() else None
        from tasks.publish.hub import hub_head, read_hub_bytes

        if repo_id not in self.heads:
            self.heads[repo_id] = hub_head(repo_id)
        return read_hub_bytes(repo_id, path, self.heads[repo_id]) if self.heads[repo_id] else None

    def differs(self, repo: DatasetRepo) -> bool:
        """Whether `repo` is not exactly what is published now (on the Hub: at the head this run read)."""
        if not self.to_hub:
            return local_differs(self.out, repo)
        from tasks.publish.hub import hub_differs, hub_head

        if repo.repo_id not in self.heads:
            self.heads[repo.repo_id] = hub_head(repo.repo_id)
        return hub_differs(repo, self.heads[repo.repo_id])

    def publish(self, repos: list[DatasetRepo], message: str) -> list[str]:
        """Write or push the repos whose content differs; the others are left as they are."""
        changed = [repo for repo in repos if self.differs(repo)]
        if not changed:
            return []
        if self.to_hub:
            from tasks.publish.hub import push

            return push(changed, self.private, message, self.heads)
        return [str(path) for path in write_local(changed, self.out)]
