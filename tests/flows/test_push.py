"""The Hub path, with no network: a stand-in for `HfApi` records what it is asked to do and serves back
what was committed, so incremental pushes read the published raw data exactly as from the Hub."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from huggingface_hub import CommitOperationAdd, DatasetCard
from huggingface_hub.errors import LocalEntryNotFoundError
from typer.testing import CliRunner

import tasks.publish.hub
from flows.cli import app
from tests.hub_stand_in import RecordingHub
from tests.openai_server import OpenAIServer

FAKE_HF_TOKEN = "hf_FakeTokenForTestsOnly0123456789abcdef"
FAKE_API_KEY = "sk-fake-key-for-tests-only-9876543210"


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RecordingHub:
    stand_in = RecordingHub(tmp_path / "hub")
    monkeypatch.setattr(tasks.publish.hub, "hub_api", lambda: stand_in)
    return stand_in


@pytest.fixture
def llm(llm_server: OpenAIServer) -> list[str]:
    """A real (local) LLM for generator and judge: `--offline` is never pushed."""
    return ["--llm-base-url", llm_server.base_url, "--llm-model", "test-model"]


def names(commit: dict[str, Any]) -> list[str]:
    """File names of a commit with content hashes replaced by #."""
    return sorted(re.sub(r"-[0-9a-f]{12}\.parquet$", "-#.parquet", name) for name in commit["files"])


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    unexpected = "" if isinstance(result.exception, SystemExit | None) else repr(result.exception)
    return result.exit_code, result.stdout + result.stderr + unexpected


def test_push_creates_private_repos_with_one_commit_each(
    llm: list[str], hub: RecordingHub, tmp_path: Path
) -> None:
    hub.orgs.append({"name": "testers", "roleInOrg": "admin"})
    summary = tmp_path / "summary.json"
    code, output = invoke("run", "nld", "--source", "sample", "--push", *llm, "--namespace", "testers",
                          "--out", str(tmp_path / "work"), "--summary-json", str(summary))  # fmt: skip
    assert code == 0, output
    assert hub.repos == {
        "testers/aya_dutch_dpo_raw": {"private": True},
        "testers/aya_dutch_dpo": {"private": True},
    }
    raw_commit, curated_commit = hub.commits
    assert raw_commit["message"].startswith("dpo-factory run ") and "nld, 10 rows" in raw_commit["message"]
    assert names(raw_commit) == [
        "README.md",
        "data/train-00000-of-00001-#.parquet",
        "recipe/last_run.json",
        "recipe/nld.yaml",
    ]
    assert names(curated_commit) == [
        "README.md",
        "default/train-00000-of-00001-#.parquet",
        "kto/train-00000-of-00001-#.parquet",
        "recipe/nld.yaml",
    ]
    card = DatasetCard(curated_commit["files"]["README.md"].decode("utf-8"))
    assert card.data.language == ["nl", "nld"]
    assert card.data.source_datasets == ["CohereLabs/aya_dataset", "testers/aya_dutch_dpo_raw"]
    (report,) = json.loads(summary.read_text(encoding="utf-8"))["languages"]
    assert report["published"] == [
        "https://huggingface.co/datasets/testers/aya_dutch_dpo_raw/commit/1",
        "https://huggingface.co/datasets/testers/aya_dutch_dpo/commit/2",
    ]
    assert not (tmp_path / "work" / "testers").exists()  # pushing writes no local copy


def test_pushed_files_are_what_out_writes(llm: list[str], hub: RecordingHub, tmp_path: Path) -> None:
    assert invoke("run", "jpn", "--source", "sample", "--push", *llm)[0] == 0
    assert invoke("run", "jpn", "--source", "sample", *llm, "--out", str(tmp_path / "local"))[0] == 0
    for commit in hub.commits:
        local = tmp_path / "local" / commit["repo_id"]
        written = {str(p.relative_to(local)) for p in local.rglob("*") if p.is_file()}
        # Same files; the raw data's hash differs only because each run stamps its own run id.
        assert names({"files": written}) == names(commit)
        assert (local / "recipe" / "jpn.yaml").read_bytes() == commit["files"]["recipe/jpn.yaml"]


def test_public_flag(llm: list[str], hub: RecordingHub) -> None:
    assert invoke("run", "jpn", "--source", "sample", "--push", *llm, "--public")[0] == 0
    assert {repo["private"] for repo in hub.repos.values()} == {False}


def test_incremental_pushes_add_rows_without_duplicates(
    llm: list[str], hub: RecordingHub, tmp_path: Path
) -> None:
    work = str(tmp_path / "work")
    assert invoke("run", "nld", "--source", "sample", "--push", *llm, "--limit", "4", "--out", work)[0] == 0
    assert invoke("run", "nld", "--source", "sample", "--push", *llm, "--out", work)[0] == 0
    code, output = invoke("run", "nld", "--source", "sample", "--push", *llm, "--out", work)
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
    ("token", "orgs", "logged_in", "expected"),
    [
        ({"role": "read"}, None, True, "tester cannot write to 'dpo-factory': the token's role is 'read'"),
        (
            {"role": "fineGrained", "fineGrained": {"scoped": []}},
            None,
            True,
            "the fine-grained token has no repo.write permission for 'dpo-factory'",
        ),
        # The case: a personal write token and the default namespace, an org the user is not in.
        (
            {"role": "write"},
            [],
            True,
            "'dpo-factory' is neither your user name (tester) nor one of your organisations (none)",
        ),
        (
            {"role": "write"},
            [{"name": "dpo-factory", "roleInOrg": "read"}],
            True,
            "your role in the organisation 'dpo-factory' is 'read', which cannot write",
        ),
        (None, None, False, "--push needs a Hugging Face token"),
    ],
)
def test_unusable_token_fails_before_any_data_is_read(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    token: dict | None,
    orgs: list | None,
    logged_in: bool,
    expected: str,
) -> None:
    stand_in = RecordingHub(tmp_path / "hub", token=token, logged_in=logged_in, orgs=orgs)
    monkeypatch.setattr(tasks.publish.hub, "hub_api", lambda: stand_in)
    missing = str(tmp_path / "no-such-source.jsonl")  # reading it would fail with another message
    with OpenAIServer() as server:
        code, output = invoke("run", "nld", "--source", missing, "--push", "--llm-base-url", server.base_url,
                              "--llm-model", "m")  # fmt: skip
        assert code == 1
        assert expected in output and "Traceback" not in output and "no such file" not in output
        code, output = invoke("coverage", "--source", missing, "--push")
        assert code == 1
        assert expected in output and "no such file" not in output
    assert server.log.calls() == 0
    assert stand_in.commits == [] and stand_in.repos == {}


def test_fine_grained_token_with_write_access_to_the_namespace(llm: list[str], hub: RecordingHub) -> None:
    hub.token = {
        "role": "fineGrained",
        "fineGrained": {"scoped": [{"entity": {"name": "dpo-factory"}, "permissions": ["repo.write"]}]},
    }
    assert invoke("run", "jpn", "--source", "sample", "--push", *llm)[0] == 0


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


def _me(token: dict[str, Any], orgs: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"name": "Tester", "orgs": orgs or [], "auth": {"accessToken": token}}


def _fine_grained(entity: str, permissions: list[str]) -> dict[str, Any]:
    return {
        "role": "fineGrained",
        "fineGrained": {"scoped": [{"entity": {"type": "org", "name": entity}, "permissions": permissions}]},
    }


@pytest.mark.parametrize(
    ("me", "namespace", "allowed"),
    [
        (_me({"role": "write"}), "Tester", True),  # the user's own namespace
        (_me({"role": "write"}), "tester", True),  # Hub names are case-insensitive
        (_me({"role": "write"}), "dpo-factory", False),  # the case: not the user's org
        (_me({"role": "write"}, [{"name": "lab", "roleInOrg": "admin"}]), "lab", True),
        (_me({"role": "write"}, [{"name": "lab", "roleInOrg": "write"}]), "lab", True),
        (_me({"role": "write"}, [{"name": "lab", "roleInOrg": "contributor"}]), "lab", True),
        (_me({"role": "write"}, [{"name": "lab", "roleInOrg": "read"}]), "lab", False),
        (_me({"role": "read"}, [{"name": "lab", "roleInOrg": "admin"}]), "lab", False),
        (_me(_fine_grained("lab", ["repo.content.read", "repo.write"]), [{"name": "lab", "roleInOrg": "write"}]), "lab", True),
        (_me(_fine_grained("lab", ["repo.content.read"]), [{"name": "lab", "roleInOrg": "write"}]), "lab", False),
        (_me(_fine_grained("other", ["repo.write"]), [{"name": "lab", "roleInOrg": "write"}]), "lab", False),
        # A token scoped to an org does not make the user a member who may write there.
        (_me(_fine_grained("lab", ["repo.write"]), [{"name": "lab", "roleInOrg": "read"}]), "lab", False),
        (_me(_fine_grained("Tester", ["repo.write"])), "tester", True),
    ],
)  # fmt: skip
def test_who_may_write_where(me: dict[str, Any], namespace: str, allowed: bool) -> None:
    assert (tasks.publish.hub._write_problem(me, namespace) is None) == allowed


@pytest.mark.parametrize("namespace", ["a/b", "../x", "..", "", "-lead", "has space", "é"])
@pytest.mark.parametrize("command", ["run", "coverage"])
def test_bad_namespace_is_one_line_and_writes_nothing(
    hub: RecordingHub, tmp_path: Path, command: str, namespace: str
) -> None:
    out = tmp_path / "out"
    args = ["run", "nld", "--offline"] if command == "run" else ["coverage"]
    for push in ([], ["--push"]):
        code, output = invoke(*args, "--source", "sample", "--out", str(out), "--namespace", namespace, *push)
        assert code == 2
        assert output.startswith(f"error: --namespace '{namespace}' is not a valid Hub namespace: ")
        assert output.count("\n") == 1 and "Traceback" not in output
    assert not out.exists() and hub.commits == [] and hub.repos == {}


def _configs(folder: Path, namespaces: dict[str, str], private: bool) -> Path:
    """Two shipped configs with their `publish` section replaced."""
    folder.mkdir()
    for code, namespace in namespaces.items():
        text = (Path("languages") / f"{code}.yaml").read_text(encoding="utf-8")
        start = text.index("publish:\n")
        end = text.index("schedule:", start)
        section = f"publish:\n  namespace: {namespace}\n  private: {str(private).lower()}\n"
        (folder / f"{code}.yaml").write_text(text[:start] + section + text[end:], encoding="utf-8")
    return folder


def test_coverage_push_uses_the_configs_namespace_and_privacy_and_publishes_a_space(
    llm: list[str], hub: RecordingHub, tmp_path: Path
) -> None:
    hub.orgs.append({"name": "lab", "roleInOrg": "write"})
    languages = _configs(tmp_path / "languages", {"nld": "lab", "jpn": "lab"}, private=False)
    for language in ("nld", "jpn"):  # two reports, with new data between them
        code, output = invoke("run", language, "--source", "sample", "--push", *llm,
                              "--languages-dir", str(languages))  # fmt: skip
        assert code == 0, output
        code, output = invoke("coverage", "--source", "sample", "--push", "--languages-dir", str(languages))
        assert code == 0, output
    # Public, because every config publishes publicly; in the configs' namespace, not the default one.
    assert hub.repos["lab/dpo-language-coverage"] == {"private": False}
    assert hub.repos["spaces/lab/dpo-language-coverage"] == {"private": False}
    assert not any(key.startswith("dpo-factory/") for key in hub.repos)
    space_commits = [c for c in hub.commits if c["repo_type"] == "space"]
    assert len(space_commits) == 2  # one commit per report
    space = space_commits[-1]
    assert sorted(space["files"]) == ["README.md", "coverage.png", "index.html"]
    readme = space["files"]["README.md"].decode("utf-8")
    assert "sdk: static" in readme and "app_file: index.html" in readme
    assert "[lab/dpo-language-coverage](https://huggingface.co/datasets/lab/dpo-language-coverage)" in readme
    dataset = hub.root / "lab" / "dpo-language-coverage"
    assert space["files"]["index.html"] == (dataset / "dashboard.html").read_bytes()
    assert space["files"]["coverage.png"].startswith(b"\x89PNG")
    assert "written: https://huggingface.co/spaces/lab/dpo-language-coverage" in output
    # The counts were read from the configs' repos on the Hub.
    (data,) = (dataset / "data").glob("*.parquet")
    coverage = pl.read_parquet(data)
    assert coverage.filter(pl.col("language_code") == "nld")["curated_repo"].item() == "lab/aya_dutch_dpo"
    assert coverage.filter(pl.col("language_code") == "nld")["raw_rows"].item() > 0
    # The history was read back from the Hub: the second report added its snapshot to the first's.
    (history,) = (dataset / "history").glob("*.parquet")
    assert pl.read_parquet(history)["generated_at"].n_unique() == 2
    page = space["files"]["index.html"].decode("utf-8")
    chart = page[page.index('<svg id="history-languages"') :]
    assert chart[: chart.index("</svg>")].count('class="snapshot"') == 2
    assert 'href="https://huggingface.co/datasets/lab/aya_dutch_dpo"' in page


def test_coverage_push_is_private_when_a_config_is(hub: RecordingHub, tmp_path: Path) -> None:
    hub.orgs.append({"name": "lab", "roleInOrg": "write"})
    languages = _configs(tmp_path / "languages", {"nld": "lab"}, private=True)
    code, output = invoke("coverage", "--source", "sample", "--push", "--languages-dir", str(languages))
    assert code == 0, output
    assert hub.repos["lab/dpo-language-coverage"] == {"private": True}
    assert hub.repos["spaces/lab/dpo-language-coverage"] == {"private": True}
    code, output = invoke(
        "coverage", "--source", "sample", "--push", "--public", "--languages-dir", str(languages)
    )
    assert code == 0, output
    assert hub.commits[-1]["repo_type"] == "space"


def test_coverage_with_configs_in_several_namespaces_asks_for_one(hub: RecordingHub, tmp_path: Path) -> None:
    languages = _configs(tmp_path / "languages", {"nld": "lab", "jpn": "other-lab"}, private=True)
    code, output = invoke("coverage", "--source", "sample", "--push", "--languages-dir", str(languages))
    assert code == 1
    assert "several namespaces (lab, other-lab): pass --namespace" in output
    assert hub.commits == []
    code, output = invoke("coverage", "--source", "sample", "--push", "--namespace", "dpo-factory",
                          "--languages-dir", str(languages))  # fmt: skip
    assert code == 0, output
    assert "dpo-factory/dpo-language-coverage" in hub.repos


class _StaleListing(RecordingHub):
    """The Hub seen by a reader while a writer commits a new version: the first listing names a file
    that the commit has just deleted."""

    def __init__(self, root: Path, stale: str) -> None:
        super().__init__(root)
        self.stale = [stale]
        self.listings = 0

    def list_repo_files(self, repo_id: str, repo_type: str, revision: str | None = None) -> list[str]:
        self.listings += 1
        files = super().list_repo_files(repo_id, repo_type, revision)
        return sorted([*files, *self.stale]) if self.listings == 1 else files


def _publish_raw(hub: RecordingHub, rows: int) -> None:
    hub.create_repo("ns/r", repo_type="dataset", private=True, exist_ok=True)
    frame = pl.DataFrame({"id": [str(i) for i in range(rows)]})
    path = hub.root / "ns" / "r" / "data" / "train-00000-of-00001-bbbbbbbbbbbb.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)


def test_a_file_that_vanishes_after_listing_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in = _StaleListing(tmp_path / "hub", "data/train-00000-of-00001-aaaaaaaaaaaa.parquet")
    monkeypatch.setattr(tasks.publish.hub, "hub_api", lambda: stand_in)
    _publish_raw(stand_in, 3)
    frame = tasks.publish.hub.read_hub_file("ns/r", "data")
    assert frame is not None and frame.height == 3  # the current version, read after listing again
    assert stand_in.listings == 2


def test_an_unreachable_hub_is_an_error_not_an_empty_dataset(
    hub: RecordingHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """huggingface_hub raises LocalEntryNotFoundError (an EntryNotFoundError) when it cannot reach the
    Hub: reading that as "nothing published" would redo and overwrite the published rows."""
    _publish_raw(hub, 3)

    def unreachable(repo_id: str, filename: str, repo_type: str, revision: str | None = None) -> str:
        raise LocalEntryNotFoundError("An error happened while trying to locate the file on the Hub")

    monkeypatch.setattr(hub, "hf_hub_download", unreachable)
    with pytest.raises(
        tasks.publish.hub.PublishError,
        match=r"cannot read data/ of ns/r from the Hub \(LocalEntryNotFoundError\)",
    ):
        tasks.publish.hub.read_hub_file("ns/r", "data")


def test_a_listing_that_keeps_naming_missing_files_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in = RecordingHub(tmp_path / "hub")
    _publish_raw(stand_in, 2)
    monkeypatch.setattr(tasks.publish.hub, "hub_api", lambda: stand_in)
    monkeypatch.setattr(
        stand_in,
        "list_repo_files",
        lambda repo_id, repo_type, revision=None: ["data/train-00000-of-00001-cccccccccccc.parquet"],
    )
    with pytest.raises(tasks.publish.hub.PublishError, match="kept naming files that are gone"):
        tasks.publish.hub.read_hub_file("ns/r", "data")


def test_a_lost_curated_repo_is_repaired_with_one_commit(
    llm: list[str], hub: RecordingHub, tmp_path: Path
) -> None:
    work = str(tmp_path / "work")
    code, output = invoke("run", "nld", "--source", "sample", "--push", *llm, "--out", work)
    assert code == 0, output
    curated = hub.root / "dpo-factory" / "aya_dutch_dpo"
    before = {p.name: p.read_bytes() for p in curated.rglob("*") if p.is_file()}
    for path in curated.rglob("*.parquet"):  # the curated commit of that run never landed
        path.unlink()
    commits = len(hub.commits)
    code, output = invoke("run", "nld", "--source", "sample", "--push", *llm, "--out", work)
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


def test_a_concurrent_writer_is_never_overwritten(
    llm: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = InterruptedHub(tmp_path / "hub")
    monkeypatch.setattr(tasks.publish.hub, "hub_api", lambda: hub)
    work = str(tmp_path / "work")
    args = ["run", "nld", "--source", "sample", "--push", *llm, "--out", work]
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
