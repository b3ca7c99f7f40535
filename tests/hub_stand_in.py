"""A stand-in for `HfApi` with no network: it records what it is asked to do and serves back what was
committed, so pushes, incremental runs and Hub reads are tested exactly as against the Hub."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from huggingface_hub.errors import HfHubHTTPError, RemoteEntryNotFoundError, RepositoryNotFoundError


def not_found(kind: type[Exception], url: str) -> Exception:
    response = httpx.Response(404, request=httpx.Request("GET", url))
    return kind(f"404 for {url}", response=response)


class RecordingHub:
    """Just enough of `HfApi` for publishing: whoami, create_repo, create_commit (with `parent_commit`
    checked against the repo's head, as the Hub does), repo_info, list_repo_files, list_repo_tree and
    hf_hub_download.

    Dataset repos are kept under their id, Spaces under `spaces/<id>` (a Space may share a dataset's id).
    """

    def __init__(
        self,
        root: Path,
        token: dict[str, Any] | None = None,
        logged_in: bool = True,
        orgs: list[dict[str, str]] | None = None,
    ) -> None:
        self.root = root
        self.token = token or {"role": "write"}
        self.logged_in = logged_in
        # The default namespace of the configs is an organisation the test user may write to.
        self.orgs = [{"name": "dpo-factory", "roleInOrg": "write"}] if orgs is None else orgs
        self.repos: dict[str, dict[str, Any]] = {}
        self.commits: list[dict[str, Any]] = []
        self.heads: dict[str, str] = {}

    def whoami(self) -> dict[str, Any]:
        if not self.logged_in:
            raise OSError("no token")
        return {"name": "tester", "orgs": self.orgs, "auth": {"accessToken": self.token}}

    @staticmethod
    def key(repo_id: str, repo_type: str) -> str:
        return repo_id if repo_type == "dataset" else f"{repo_type}s/{repo_id}"

    def create_repo(
        self, repo_id: str, repo_type: str, private: bool, exist_ok: bool, space_sdk: str | None = None
    ) -> None:
        assert exist_ok and (repo_type == "dataset" or (repo_type == "space" and space_sdk == "static"))
        key = self.key(repo_id, repo_type)
        self.repos.setdefault(key, {"private": private})
        self.heads.setdefault(key, f"{key}@initial")

    def repo_info(self, repo_id: str, repo_type: str) -> Any:
        if repo_id not in self.repos:
            raise not_found(RepositoryNotFoundError, repo_id)
        return SimpleNamespace(sha=self.heads[repo_id])

    def create_commit(
        self,
        repo_id: str,
        operations: list,
        commit_message: str,
        repo_type: str,
        parent_commit: str | None = None,
    ) -> Any:
        key = self.key(repo_id, repo_type)
        assert key in self.repos, "create_commit before create_repo"
        if parent_commit is not None and parent_commit != self.heads[key]:
            response = httpx.Response(412, request=httpx.Request("POST", repo_id))
            raise HfHubHTTPError(
                "412 Precondition Failed: the parent commit is not the head", response=response
            )
        files = {op.path_in_repo: op.path_or_fileobj for op in operations if hasattr(op, "path_or_fileobj")}
        deleted = [op.path_in_repo for op in operations if not hasattr(op, "path_or_fileobj")]
        self.commits.append(
            {
                "repo_id": repo_id,
                "repo_type": repo_type,
                "message": commit_message,
                "files": files,
                "deleted": deleted,
            }
        )
        for name in deleted:
            (self.root / key / name).unlink()
        for name, content in files.items():
            (self.root / key / name).parent.mkdir(parents=True, exist_ok=True)
            (self.root / key / name).write_bytes(content)
        self.heads[key] = f"{key}@{len(self.commits)}"
        return SimpleNamespace(
            commit_url=f"https://huggingface.co/datasets/{repo_id}/commit/{len(self.commits)}",
            oid=self.heads[key],
        )

    def _files(self, repo_id: str) -> list[Path]:
        if repo_id not in self.repos:
            raise not_found(RepositoryNotFoundError, repo_id)
        folder = self.root / repo_id
        return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []

    def list_repo_files(self, repo_id: str, repo_type: str, revision: str | None = None) -> list[str]:
        return [str(p.relative_to(self.root / repo_id)) for p in self._files(repo_id)]

    def list_repo_tree(
        self, repo_id: str, recursive: bool, revision: str | None, repo_type: str
    ) -> list[Any]:
        """Files as the Hub lists them: Parquet in LFS (sha256), the rest as git blobs (sha1 oid)."""
        entries = []
        for path in self._files(repo_id):
            content = path.read_bytes()
            lfs = (
                SimpleNamespace(sha256=hashlib.sha256(content).hexdigest())
                if path.suffix == ".parquet"
                else None
            )
            blob = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
            entries.append(
                SimpleNamespace(path=str(path.relative_to(self.root / repo_id)), blob_id=blob, lfs=lfs)
            )
        return entries

    def hf_hub_download(
        self, repo_id: str, filename: str, repo_type: str, revision: str | None = None
    ) -> str:
        if repo_id not in self.repos:
            raise not_found(RepositoryNotFoundError, repo_id)
        path = self.root / repo_id / filename
        if not path.is_file():
            raise not_found(RemoteEntryNotFoundError, f"{repo_id}/{filename}")
        return str(path)
