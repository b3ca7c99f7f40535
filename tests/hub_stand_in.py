"""A stand-in for `HfApi` with no network: it records what it is asked to do and serves back what was
committed, so pushes, incremental runs and Hub reads are tested exactly as against the Hub.

Where it matters for data safety it behaves as the Hub does (assumptions, from huggingface_hub's
documentation and behaviour):

- `create_repo` makes the repo with an initial commit holding `.gitattributes`, so a new repo already
  has a head; with `exist_ok=False` an existing repo is a 409 Conflict.
- `create_commit(parent_commit=X)` is refused with 412 Precondition Failed unless X is the head;
  `parent_commit=None` is checked against nothing.
- Reads at a `revision` (a commit id) see the repo as it was at that commit, not as it is now.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from huggingface_hub import CommitOperationAdd, CommitOperationDelete
from huggingface_hub.errors import HfHubHTTPError, RemoteEntryNotFoundError, RepositoryNotFoundError

GITATTRIBUTES = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"


def not_found(kind: type[Exception], url: str) -> Exception:
    response = httpx.Response(404, request=httpx.Request("GET", url))
    return kind(f"404 for {url}", response=response)


def http_error(status: int, url: str, message: str) -> HfHubHTTPError:
    return HfHubHTTPError(message, response=httpx.Response(status, request=httpx.Request("POST", url)))


class RecordingHub:
    """Just enough of `HfApi` for publishing: whoami, create_repo, create_commit (with `parent_commit`
    checked against the repo's head, as the Hub does), repo_info, list_repo_files, list_repo_tree and
    hf_hub_download.

    Dataset repos are kept under their id, Spaces under `spaces/<id>` (a Space may share a dataset's id).
    The files of a repo's head are on disk under `root/<key>` (tests may change them there, as a lost
    or partial commit would); every commit's files are also kept, so reads at an older revision see
    that commit. `commits` lists the `create_commit` calls only (not the initial commits).
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
        self.snapshots: dict[str, dict[str, bytes]] = {}  # commit id -> the repo's files at it

    def whoami(self) -> dict[str, Any]:
        if not self.logged_in:
            raise OSError("no token")
        return {"name": "tester", "orgs": self.orgs, "auth": {"accessToken": self.token}}

    @staticmethod
    def key(repo_id: str, repo_type: str) -> str:
        return repo_id if repo_type == "dataset" else f"{repo_type}s/{repo_id}"

    def create_repo(
        self,
        repo_id: str,
        repo_type: str,
        private: bool,
        exist_ok: bool = False,
        space_sdk: str | None = None,
    ) -> None:
        assert repo_type == "dataset" or (repo_type == "space" and space_sdk == "static")
        key = self.key(repo_id, repo_type)
        if key in self.repos:
            if not exist_ok:
                raise http_error(409, repo_id, f"409 Conflict: You already created this {repo_type} repo")
            return
        self.repos[key] = {"private": private}
        folder = self.root / key
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".gitattributes").write_bytes(GITATTRIBUTES)
        self.heads[key] = f"{key}@initial"
        self.snapshots[self.heads[key]] = self._current(key)

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
        if key not in self.repos:
            raise not_found(RepositoryNotFoundError, repo_id)
        if parent_commit is not None and parent_commit != self.heads[key]:
            raise http_error(412, repo_id, "412 Precondition Failed: the parent commit is not the head")
        files = {op.path_in_repo: op.path_or_fileobj for op in operations if hasattr(op, "path_or_fileobj")}
        deleted = [op.path_in_repo for op in operations if not hasattr(op, "path_or_fileobj")]
        self.commits.append(
            {
                "repo_id": repo_id,
                "repo_type": repo_type,
                "message": commit_message,
                "files": files,
                "deleted": deleted,
                "parent_commit": parent_commit,
            }
        )
        for name in deleted:
            (self.root / key / name).unlink()
        for name, content in files.items():
            (self.root / key / name).parent.mkdir(parents=True, exist_ok=True)
            (self.root / key / name).write_bytes(content)
        self.heads[key] = f"{key}@{len(self.commits)}"
        self.snapshots[self.heads[key]] = self._current(key)
        return SimpleNamespace(
            commit_url=f"https://huggingface.co/datasets/{repo_id}/commit/{len(self.commits)}",
            oid=self.heads[key],
        )

    def adopt(self, other: RecordingHub, message: str = "another writer") -> None:
        """Another writer publishes what `other` holds now: one commit per dataset repo, on top of
        whatever is here (its repos are created when missing)."""
        for key in other.repos:
            if key.startswith("spaces/"):
                continue
            self.create_repo(key, repo_type="dataset", private=other.repos[key]["private"], exist_ok=True)
            theirs = other._current(key)
            operations: list = [CommitOperationAdd(name, content) for name, content in theirs.items()]
            operations += [CommitOperationDelete(name) for name in self._current(key) if name not in theirs]
            self.create_commit(key, operations, message, "dataset")

    def _current(self, key: str) -> dict[str, bytes]:
        folder = self.root / key
        files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
        return {str(p.relative_to(folder)): p.read_bytes() for p in files}

    def _files(self, repo_id: str, revision: str | None = None) -> dict[str, bytes]:
        """The repo's files at `revision` (a commit id; None or the head: as they are on disk now)."""
        if repo_id not in self.repos:
            raise not_found(RepositoryNotFoundError, repo_id)
        if revision is None or revision == self.heads[repo_id]:
            return self._current(repo_id)
        if revision not in self.snapshots or not revision.startswith(f"{repo_id}@"):
            raise not_found(RemoteEntryNotFoundError, f"{repo_id}@{revision}")
        return self.snapshots[revision]

    def list_repo_files(self, repo_id: str, repo_type: str, revision: str | None = None) -> list[str]:
        return list(self._files(repo_id, revision))

    def list_repo_tree(
        self, repo_id: str, recursive: bool, revision: str | None, repo_type: str
    ) -> list[Any]:
        """Files as the Hub lists them: Parquet in LFS (sha256), the rest as git blobs (sha1 oid)."""
        entries = []
        for name, content in self._files(repo_id, revision).items():
            lfs = (
                SimpleNamespace(sha256=hashlib.sha256(content).hexdigest())
                if name.endswith(".parquet")
                else None
            )
            blob = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
            entries.append(SimpleNamespace(path=name, blob_id=blob, lfs=lfs))
        return entries

    def hf_hub_download(
        self, repo_id: str, filename: str, repo_type: str, revision: str | None = None
    ) -> str:
        files = self._files(repo_id, revision)
        if filename not in files:
            raise not_found(RemoteEntryNotFoundError, f"{repo_id}/{filename}")
        # Served from a cache folder per commit, as huggingface_hub's cache would: a commit made
        # after the download does not touch the downloaded copy.
        folder = (revision or self.heads[repo_id]).replace("/", "--")
        path = self.root / ".revisions" / folder / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[filename])
        return str(path)
