"""The Hugging Face Hub side of publishing: who may write where, what a repo holds now, and commits.

Reads pin one commit, so a concurrent commit cannot mix two versions; a comparison of content hashes
(sha256 for LFS files, the git object id for the rest) tells whether a repo needs a commit at all;
and every commit goes on top of exactly the commit the run read (`parent_commit`), so another
writer's commit is refused by the Hub instead of being overwritten; a repo the run read as missing
is committed to only while it is still empty, so another writer's first publish is refused too.
The token is found by huggingface_hub itself (HF_TOKEN or a stored login), never read or passed by
hand.
"""

from __future__ import annotations

import hashlib
from typing import Any

import polars as pl
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import HfHubHTTPError, RemoteEntryNotFoundError, RepositoryNotFoundError

from tasks.publish.errors import PublishError
from tasks.publish.repos import RAW_DATA, DatasetRepo, is_data_file, repo_manifest


class HubUnavailableError(PublishError):
    """The Hub did not answer as it should (rate limit, server error, dropped connection): worth a retry."""


def _hub_error(exc: Exception, what: str) -> PublishError:
    """A one-line error for a failed Hub call; transient failures are marked for a retry."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    transient = (
        status == 429 or (status is not None and status >= 500) or isinstance(exc, (OSError, TimeoutError))
    )
    kind = HubUnavailableError if transient else PublishError
    return kind(f"{what} ({type(exc).__name__}{f' {status}' if status else ''})")


# Organisation roles that may create repos (contributors: and update the ones they created).
ORG_WRITE_ROLES = {"admin", "write", "contributor"}
_LISTING_ATTEMPTS = 3


def hub_api() -> HfApi:
    """The Hub client; huggingface_hub finds the token (HF_TOKEN or a stored login) by itself."""
    return HfApi()


def hub_head(repo_id: str) -> str | None:
    """The commit a Hub dataset repo is at now, or None when it does not exist yet."""
    try:
        return hub_api().repo_info(repo_id, repo_type="dataset").sha
    except RepositoryNotFoundError:
        return None
    except Exception as exc:
        raise _hub_error(exc, f"cannot read {repo_id} from the Hub") from exc


def read_hub_file(repo_id: str, folder: str, revision: str | None = None) -> pl.DataFrame | None:
    """A config's published Parquet data on the Hub, or None when the repo or the data does not exist yet.

    With `revision` (a commit, as the per-language flow reads), every file comes from that one commit.
    Without it, a file can vanish between listing and download when a new version is committed
    meanwhile: the listing is read again, so the new version is what comes back. An unreachable Hub is
    an error, never "nothing published": that would make the run redo and overwrite the published rows.
    """
    api = hub_api()
    for _ in range(_LISTING_ATTEMPTS):
        try:
            names = [
                name
                for name in api.list_repo_files(repo_id, repo_type="dataset", revision=revision)
                if is_data_file(name, folder)
            ]
            paths = [
                api.hf_hub_download(repo_id, name, repo_type="dataset", revision=revision)
                for name in sorted(names)
            ]
        except RepositoryNotFoundError:
            return None
        except RemoteEntryNotFoundError:
            continue  # listed, then gone: the listing is stale, read it again
        except Exception as exc:  # includes LocalEntryNotFoundError: the Hub could not be reached
            raise _hub_error(exc, f"cannot read {folder}/ of {repo_id} from the Hub") from exc
        return pl.concat([pl.read_parquet(path) for path in paths], how="diagonal_relaxed") if paths else None
    raise PublishError(
        f"cannot read {folder}/ of {repo_id} from the Hub: its file list kept naming files that are gone "
        f"({_LISTING_ATTEMPTS} tries)"
    )


def read_hub_bytes(repo_id: str, path: str, revision: str | None) -> bytes | None:
    """One file of a Hub dataset repo at `revision`, or None when the repo or the file is not there."""
    try:
        local = hub_api().hf_hub_download(repo_id, path, repo_type="dataset", revision=revision)
    except (RepositoryNotFoundError, RemoteEntryNotFoundError):
        return None
    except Exception as exc:
        raise _hub_error(exc, f"cannot read {path} of {repo_id} from the Hub") from exc
    with open(local, "rb") as handle:
        return handle.read()


def read_hub_raw(repo_id: str) -> pl.DataFrame | None:
    """The raw rows already on the Hub, or None when the repo does not exist yet."""
    return read_hub_file(repo_id, RAW_DATA)


def _write_problem(me: dict[str, Any], namespace: str) -> str | None:
    """Why the account `whoami` describes cannot create and commit to repos under `namespace`, or None.

    Two things must hold: the namespace is the user's own or an organisation where the user may write,
    and the token itself may write there (a `write` token, or a fine-grained one with `repo.write` for
    that user or organisation).
    """
    user = str(me.get("name") or "")
    wanted = namespace.lower()  # Hub names are case-insensitive
    roles = {str(org.get("name") or "").lower(): org.get("roleInOrg") for org in me.get("orgs") or []}
    if wanted != user.lower():
        if wanted not in roles:
            orgs = ", ".join(sorted(str(org.get("name")) for org in me.get("orgs") or [])) or "none"
            return f"'{namespace}' is neither your user name ({user}) nor one of your organisations ({orgs})"
        if roles[wanted] not in ORG_WRITE_ROLES:
            return f"your role in the organisation '{namespace}' is '{roles[wanted]}', which cannot write"
    token = (me.get("auth") or {}).get("accessToken") or {}
    role = token.get("role")
    if not token or role == "write":
        return None  # no token description (e.g. an OAuth login): the membership above is what we know
    if role == "fineGrained":
        grants = token.get("fineGrained") or {}
        scoped = any(
            str((scope.get("entity") or {}).get("name") or "").lower() == wanted
            and "repo.write" in (scope.get("permissions") or [])
            for scope in grants.get("scoped") or []
        )
        if scoped or "repo.write" in (grants.get("global") or []):
            return None
        return f"the fine-grained token has no repo.write permission for '{namespace}'"
    return f"the token's role is '{role}'"


def check_push_access(namespace: str) -> str:
    """The user the token belongs to; fails before any data is read when it cannot write to `namespace`."""
    hint = "set HF_TOKEN to a token with write access, or run `hf auth login`"
    try:
        me = hub_api().whoami()
    except Exception as exc:
        raise PublishError(f"--push needs a Hugging Face token ({type(exc).__name__}): {hint}") from exc
    problem = _write_problem(me, namespace)
    if problem:
        raise PublishError(
            f"--push: {me.get('name')} cannot write to '{namespace}': {problem}; pass --namespace "
            f"{me.get('name')} (or an organisation you can write to), or use a token that may write there"
        )
    return me["name"]


def push_space(space: DatasetRepo, private: bool, message: str) -> str:
    """A static Hugging Face Space (`space.card` as README.md, plus its files) in one commit; its URL."""
    api = hub_api()
    try:
        api.create_repo(space.repo_id, repo_type="space", space_sdk="static", private=private, exist_ok=True)
        operations = [CommitOperationAdd("README.md", space.card.encode("utf-8"))]
        operations += [CommitOperationAdd(name, content) for name, content in space.files.items()]
        api.create_commit(space.repo_id, operations, commit_message=message, repo_type="space")
    except Exception as exc:
        raise PublishError(
            f"push to the Space {space.repo_id} failed ({type(exc).__name__}); the previous version is intact"
        ) from exc
    return f"https://huggingface.co/spaces/{space.repo_id}"


class ConcurrentWriteError(PublishError):
    """Someone else committed to a repo during this run; nothing of theirs was overwritten."""


def git_blob_id(content: bytes) -> str:
    """The git object id of a file's content: what the Hub reports for files not stored in LFS."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def hub_differs(repo: DatasetRepo, revision: str | None) -> bool:
    """Whether the Hub repo at `revision` is not exactly `repo`; compared by hash, nothing downloaded.

    LFS files (the Parquet data) are compared by their sha256, other files by their git object id.
    """
    if revision is None:
        return True
    try:
        entries = hub_api().list_repo_tree(
            repo.repo_id, recursive=True, revision=revision, repo_type="dataset"
        )
        remote = {entry.path: entry for entry in entries if hasattr(entry, "blob_id")}
    except RepositoryNotFoundError:
        return True
    except Exception as exc:
        raise _hub_error(exc, f"cannot list {repo.repo_id} on the Hub") from exc
    wanted = repo_manifest(repo)
    stale = [name for name in remote if name.endswith(".parquet") and name not in wanted]
    if stale or any(name not in remote for name in wanted):
        return True
    for name, content in wanted.items():
        entry = remote[name]
        lfs_sha = getattr(entry.lfs, "sha256", None) if entry.lfs else None
        same = (
            lfs_sha == hashlib.sha256(content).hexdigest()
            if lfs_sha
            else entry.blob_id == git_blob_id(content)
        )
        if not same:
            return True
    return False


# What the Hub puts in a repo it creates (`create_repo` makes an initial commit holding `.gitattributes`):
# a repo with nothing else in it holds no one's data yet.
EMPTY_REPO_FILES = frozenset({".gitattributes"})


def _concurrent_write(repo_id: str) -> ConcurrentWriteError:
    return ConcurrentWriteError(
        f"{repo_id} changed on the Hub during this run (another writer); nothing was "
        "overwritten and this run's rows stay in its journal: run again to add them"
    )


def _parent_of_new_repo(api: HfApi, repo_id: str) -> tuple[str, list[str]]:
    """The commit to build on in a repo this run read as missing, and the files at it.

    The repo exists by now (created by this run, by an earlier attempt of this publish, or by someone
    else). It may be built on only while it holds nothing but what the Hub puts in a new repo: then its
    head is the parent, so a commit by anyone else from here on is refused too. Anything more is another
    writer's data that appeared during this run, and is never overwritten.
    """
    head = api.repo_info(repo_id, repo_type="dataset").sha
    files = list(api.list_repo_files(repo_id, repo_type="dataset", revision=head))
    if set(files) - EMPTY_REPO_FILES:
        raise _concurrent_write(repo_id)
    return head, files


def push(
    repos: list[DatasetRepo], private: bool, message: str, heads: dict[str, str | None] | None = None
) -> list[str]:
    """One `create_commit` per repo with card and files; a failed commit leaves the previous version.

    `heads` maps a repo id to the commit its published data was read at (None: it did not exist). The
    commit is made on top of exactly that commit (`parent_commit`), so a write by anyone else in between
    is refused by the Hub instead of being overwritten. A repo read as missing is built on only while
    it is still empty (`_parent_of_new_repo`): a first publish by another writer is refused just the
    same. `heads` is then updated to the new commits.
    """
    api = hub_api()
    urls = []
    for repo in repos:
        parent = (heads or {}).get(repo.repo_id)
        try:
            api.create_repo(repo.repo_id, repo_type="dataset", private=private, exist_ok=True)
            if parent is None:  # read as missing
                parent, present = _parent_of_new_repo(api, repo.repo_id)
            else:
                present = api.list_repo_files(repo.repo_id, repo_type="dataset", revision=parent)
            operations: list = [CommitOperationAdd("README.md", repo.card.encode("utf-8"))]
            operations += [CommitOperationAdd(name, content) for name, content in repo.files.items()]
            # The previous version's data files (other content hashes) go in the same commit.
            stale = [name for name in present if name.endswith(".parquet") and name not in repo.files]
            operations += [CommitOperationDelete(name) for name in stale]
            info = api.create_commit(
                repo.repo_id, operations, commit_message=message, repo_type="dataset", parent_commit=parent
            )
        except ConcurrentWriteError:
            raise
        except HfHubHTTPError as exc:
            if exc.response is not None and exc.response.status_code in (409, 412):
                raise _concurrent_write(repo.repo_id) from exc
            raise _hub_error(exc, f"push to {repo.repo_id} failed; the previous version is intact") from exc
        except Exception as exc:
            raise _hub_error(exc, f"push to {repo.repo_id} failed; the previous version is intact") from exc
        if heads is not None:
            heads[repo.repo_id] = getattr(info, "oid", None)
        urls.append(
            str(getattr(info, "commit_url", None) or f"https://huggingface.co/datasets/{repo.repo_id}")
        )
    return urls
