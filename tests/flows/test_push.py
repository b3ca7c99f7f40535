"""The Hub path, with no network: a stand-in for `HfApi` records what it is asked to do and serves back
what was committed, so incremental pushes read the published raw data exactly as from the Hub."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import polars as pl
import pytest
from huggingface_hub import CommitOperationAdd, DatasetCard
from huggingface_hub.errors import HfHubHTTPError, RemoteEntryNotFoundError, RepositoryNotFoundError
from typer.testing import CliRunner

import tasks.publish
from flows.cli import app
from tests.openai_server import OpenAIServer

FAKE_HF_TOKEN = "hf_FakeTokenForTestsOnly0123456789abcdef"
FAKE_API_KEY = "sk-fake-key-for-tests-only-9876543210"


def _not_found(kind: type[Exception], url: str) -> Exception:
    response = httpx.Response(404, request=httpx.Request("GET", url))
    return kind(f"404 for {url}", response=response)


class RecordingHub:
    """Just enough of `HfApi` for publishing: whoami, create_repo, create_commit (with `parent_commit`
    checked against the repo's head, as the Hub does), repo_info, list_repo_tree and hf_hub_download."""

    def __init__(self, root: Path, token: dict[str, Any] | None = None, logged_in: bool = True) -> None:
        self.root = root
        self.token = token or {"role": "write"}
        self.logged_in = logged_in
        self.repos: dict[str, dict[str, Any]] = {}
        self.commits: list[dict[str, Any]] = []
        self.heads: dict[str, str] = {}

    def whoami(self) -> dict[str, Any]:
        if not self.logged_in:
            raise OSError("no token")
        return {"name": "tester", "auth": {"accessToken": self.token}}

    def create_repo(self, repo_id: str, repo_type: str, private: bool, exist_ok: bool) -> None:
        assert repo_type == "dataset" and exist_ok
        self.repos.setdefault(repo_id, {"private": private})
        self.heads.setdefault(repo_id, f"{repo_id}@initial")

    def repo_info(self, repo_id: str, repo_type: str) -> Any:
        if repo_id not in self.repos:
            raise _not_found(RepositoryNotFoundError, repo_id)
        return SimpleNamespace(sha=self.heads[repo_id])

    def create_commit(
        self,
        repo_id: str,
        operations: list,
        commit_message: str,
        repo_type: str,
        parent_commit: str | None = None,
    ) -> Any:
        if parent_commit is not None and parent_commit != self.heads[repo_id]:
            response = httpx.Response(412, request=httpx.Request("POST", repo_id))
            raise HfHubHTTPError(
                "412 Precondition Failed: the parent commit is not the head", response=response
            )
        files = {op.path_in_repo: op.path_or_fileobj for op in operations if hasattr(op, "path_or_fileobj")}
        deleted = [op.path_in_repo for op in operations if not hasattr(op, "path_or_fileobj")]
        self.commits.append(
            {"repo_id": repo_id, "message": commit_message, "files": files, "deleted": deleted}
        )
        for name in deleted:
            (self.root / repo_id / name).unlink()
        for name, content in files.items():
            (self.root / repo_id / name).parent.mkdir(parents=True, exist_ok=True)
            (self.root / repo_id / name).write_bytes(content)
        self.heads[repo_id] = f"{repo_id}@{len(self.commits)}"
        return SimpleNamespace(
            commit_url=f"https://huggingface.co/datasets/{repo_id}/commit/{len(self.commits)}",
            oid=self.heads[repo_id],
        )

    def _files(self, repo_id: str) -> list[Path]:
        if repo_id not in self.repos:
            raise _not_found(RepositoryNotFoundError, repo_id)
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
            raise _not_found(RepositoryNotFoundError, repo_id)
        path = self.root / repo_id / filename
        if not path.is_file():
            raise _not_found(RemoteEntryNotFoundError, f"{repo_id}/{filename}")
        return str(path)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RecordingHub:
    stand_in = RecordingHub(tmp_path / "hub")
    monkeypatch.setattr(tasks.publish, "hub_api", lambda: stand_in)
    return stand_in


def names(commit: dict[str, Any]) -> list[str]:
    """File names of a commit with content hashes replaced by #."""
    return sorted(re.sub(r"-[0-9a-f]{12}\.parquet$", "-#.parquet", name) for name in commit["files"])


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def test_push_creates_private_repos_with_one_commit_each(hub: RecordingHub, tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    code, output = invoke("run", "nld", "--source", "sample", "--offline", "--push", "--namespace", "testers",
                          "--out", str(tmp_path / "work"), "--summary-json", str(summary))  # fmt: skip
    assert code == 0, output
    assert hub.repos == {
        "testers/aya_dutch_dpo_raw": {"private": True},
        "testers/aya_dutch_dpo": {"private": True},
    }
    raw_commit, curated_commit = hub.commits
    assert raw_commit["message"].startswith("dpo-factory run ") and "nld, 10 rows" in raw_commit["message"]
    assert names(raw_commit) == ["README.md", "data/train-00000-of-00001-#.parquet", "recipe/nld.yaml"]
    assert names(curated_commit) == [
        "README.md",
        "default/train-00000-of-00001-#.parquet",
        "kto/train-00000-of-00001-#.parquet",
        "recipe/nld.yaml",
    ]
    card = DatasetCard(curated_commit["files"]["README.md"].decode("utf-8"))
    assert card.data.language == ["nl"]
    assert card.data.source_datasets == ["CohereForAI/aya_dataset", "testers/aya_dutch_dpo_raw"]
    (report,) = json.loads(summary.read_text(encoding="utf-8"))["languages"]
    assert report["published"] == [
        "https://huggingface.co/datasets/testers/aya_dutch_dpo_raw/commit/1",
        "https://huggingface.co/datasets/testers/aya_dutch_dpo/commit/2",
    ]
    assert not (tmp_path / "work" / "testers").exists()  # pushing writes no local copy


def test_pushed_files_are_what_out_writes(hub: RecordingHub, tmp_path: Path) -> None:
    assert invoke("run", "jpn", "--source", "sample", "--offline", "--push")[0] == 0
    assert invoke("run", "jpn", "--source", "sample", "--offline", "--out", str(tmp_path / "local"))[0] == 0
    for commit in hub.commits:
        local = tmp_path / "local" / commit["repo_id"]
        written = {str(p.relative_to(local)) for p in local.rglob("*") if p.is_file()}
        # Same files; the raw data's hash differs only because each run stamps its own run id.
        assert names({"files": written}) == names(commit)
        assert (local / "recipe" / "jpn.yaml").read_bytes() == commit["files"]["recipe/jpn.yaml"]


def test_public_flag(hub: RecordingHub) -> None:
    assert invoke("run", "jpn", "--source", "sample", "--offline", "--push", "--public")[0] == 0
    assert {repo["private"] for repo in hub.repos.values()} == {False}


def test_incremental_pushes_add_rows_without_duplicates(hub: RecordingHub, tmp_path: Path) -> None:
    work = str(tmp_path / "work")
    assert (
        invoke("run", "nld", "--source", "sample", "--offline", "--push", "--limit", "4", "--out", work)[0]
        == 0
    )
    assert invoke("run", "nld", "--source", "sample", "--offline", "--push", "--out", work)[0] == 0
    code, output = invoke("run", "nld", "--source", "sample", "--offline", "--push", "--out", work)
    assert code == 0 and "nothing changed" in output
    assert (
        len(hub.commits) == 4
    )  # two runs with new rows, one commit per repo each; the third commits nothing
    assert hub.commits[2]["deleted"] and all(name.endswith(".parquet") for name in hub.commits[2]["deleted"])
    (data,) = (hub.root / "dpo-factory" / "aya_dutch_dpo_raw" / "data").glob(
        "*.parquet"
    )  # old version deleted
    raw = pl.read_parquet(data)
    assert raw.height == 10 and raw["id"].is_unique().all()
    assert raw["run_id"].n_unique() == 2
    card = (hub.root / "dpo-factory" / "aya_dutch_dpo_raw" / "README.md").read_text(encoding="utf-8")
    assert "10 rows. By status:" in card


@pytest.mark.parametrize(
    ("token", "logged_in", "expected"),
    [
        ({"role": "read"}, True, "the Hugging Face token cannot write to 'dpo-factory' (read)"),
        ({"role": "fineGrained", "fineGrained": {"scoped": []}}, True, "cannot write to 'dpo-factory'"),
        (None, False, "--push needs a Hugging Face token"),
    ],
)
def test_unusable_token_fails_before_any_llm_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token: dict | None, logged_in: bool, expected: str
) -> None:
    stand_in = RecordingHub(tmp_path / "hub", token=token, logged_in=logged_in)
    monkeypatch.setattr(tasks.publish, "hub_api", lambda: stand_in)
    with OpenAIServer() as server:
        code, output = invoke("run", "nld", "--source", "sample", "--push", "--llm-base-url", server.base_url,
                              "--llm-model", "m")  # fmt: skip
    assert code == 1
    assert expected in output and "Traceback" not in output
    assert server.log.calls() == 0
    assert stand_in.commits == []


def test_fine_grained_token_with_write_access_to_the_namespace(hub: RecordingHub) -> None:
    hub.token = {
        "role": "fineGrained",
        "fineGrained": {"scoped": [{"entity": {"name": "dpo-factory"}, "permissions": ["repo.write"]}]},
    }
    assert invoke("run", "jpn", "--source", "sample", "--offline", "--push")[0] == 0


def test_secrets_appear_in_no_output(
    hub: RecordingHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", FAKE_HF_TOKEN)
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
    out, summary = tmp_path / "out", tmp_path / "summary.json"
    with OpenAIServer() as server:
        code, push_output = invoke("run", "nld", "--source", "sample", "--push", "--llm-base-url", server.base_url,
                                   "--llm-model", "m", "--out", str(out), "--summary-json", str(summary))  # fmt: skip
        assert code == 0, push_output
        code, local_output = invoke("run", "jpn", "--source", "sample", "--llm-base-url", server.base_url,
                                    "--llm-model", "m", "--out", str(out), "--summary-json", str(summary))  # fmt: skip
        assert code == 0, local_output
    assert f"Bearer {FAKE_API_KEY}" in server.log.authorizations  # the key was used ...

    texts = [push_output, local_output, summary.read_text(encoding="utf-8")]
    texts += [path.read_bytes().decode("utf-8", "replace") for path in out.rglob("*") if path.is_file()]
    texts += [
        content.decode("utf-8", "replace") for commit in hub.commits for content in commit["files"].values()
    ]

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
        texts += [json.dumps(run.parameters) for run in runs]
        texts += [log.message for log in client.read_logs()]
    assert len(texts) > 10
    for text in texts:  # ... and written nowhere
        assert FAKE_API_KEY not in text
        assert FAKE_HF_TOKEN not in text


def test_a_lost_curated_repo_is_repaired_with_one_commit(hub: RecordingHub, tmp_path: Path) -> None:
    work = str(tmp_path / "work")
    code, output = invoke("run", "nld", "--source", "sample", "--offline", "--push", "--out", work)
    assert code == 0, output
    curated = hub.root / "dpo-factory" / "aya_dutch_dpo"
    before = {p.name: p.read_bytes() for p in curated.rglob("*") if p.is_file()}
    for path in curated.rglob("*.parquet"):  # the curated commit of that run never landed
        path.unlink()
    commits = len(hub.commits)
    code, output = invoke("run", "nld", "--source", "sample", "--offline", "--push", "--out", work)
    assert code == 0, output
    (repair,) = hub.commits[commits:]  # one commit, to the curated repo only
    assert repair["repo_id"] == "dpo-factory/aya_dutch_dpo"
    assert {p.name: p.read_bytes() for p in curated.rglob("*") if p.is_file()} == before


class InterruptedHub(RecordingHub):
    """Another writer commits to the raw repo right after this run has read it."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.interrupt = False

    def hf_hub_download(
        self, repo_id: str, filename: str, repo_type: str, revision: str | None = None
    ) -> str:
        path = super().hf_hub_download(repo_id, filename, repo_type, revision)
        if self.interrupt and filename.startswith("data/"):
            self.interrupt = False
            self.create_commit(
                repo_id, [CommitOperationAdd("other/writer.txt", b"theirs")], "another run", "dataset"
            )
        return path


def test_a_concurrent_writer_is_never_overwritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = InterruptedHub(tmp_path / "hub")
    monkeypatch.setattr(tasks.publish, "hub_api", lambda: hub)
    work = str(tmp_path / "work")
    args = ["run", "nld", "--source", "sample", "--offline", "--push", "--out", work]
    assert invoke(*args, "--limit", "4")[0] == 0
    hub.interrupt = True
    code, output = invoke(*args)
    assert code == 1
    assert "dpo-factory/aya_dutch_dpo_raw changed on the Hub during this run" in output
    assert (hub.root / "dpo-factory" / "aya_dutch_dpo_raw" / "other" / "writer.txt").read_bytes() == b"theirs"
    code, output = invoke(*args)  # the next run adds this run's rows from its journal
    assert code == 0, output
    assert "6 rows and 0 answers from the journal" in output
    (data,) = (hub.root / "dpo-factory" / "aya_dutch_dpo_raw" / "data").glob("*.parquet")
    assert pl.read_parquet(data).height == 10
