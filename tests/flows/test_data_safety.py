"""Data that must never be lost, duplicated or passed off as something else: first pushes racing
another writer, offline placeholder rows, checkpoints and the journal, and stale curated repos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from huggingface_hub import CommitOperationAdd
from typer.testing import CliRunner

import tasks.publish.hub
from flows.cli import app
from languages.schema import load_language
from tasks.filter.rules import filter_rows
from tasks.llm.client import PLACEHOLDER_MODEL, PLACEHOLDER_NOTE
from tasks.publish.hub import ConcurrentWriteError, push
from tasks.publish.repos import DatasetRepo
from tests.flows.test_resume import dutch_source
from tests.helpers import copy_configs
from tests.hub_stand_in import RecordingHub
from tests.openai_server import OpenAIServer, Reply

RAW = Path("dpo-factory") / "aya_dutch_dpo_raw"
CURATED = Path("dpo-factory") / "aya_dutch_dpo"
JOURNAL = Path(".journal") / "dpo-factory" / "aya_dutch_dpo_raw.jsonl"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    unexpected = "" if isinstance(result.exception, SystemExit | None) else repr(result.exception)
    return result.exit_code, result.stdout + result.stderr + unexpected


def real_llm(server: OpenAIServer) -> list[str]:
    return ["--llm-base-url", server.base_url, "--llm-model", "real-model"]


def read(root: Path, repo: Path, folder: str) -> pl.DataFrame:
    (path,) = (root / repo / folder).glob("train-*.parquet")
    return pl.read_parquet(path)


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def generations_for(server: OpenAIServer, prompt: str) -> int:
    return sum(1 for r in server.log.requests if r["kind"] == "generate" and r["user"] == prompt)


def journal_rows(out: Path) -> int:
    path = out / JOURNAL
    return path.read_text(encoding="utf-8").count('"event": "row"') if path.is_file() else 0


def journal_ids(out: Path) -> set[str]:
    """The ids of the finished rows in the journal."""
    path = out / JOURNAL
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return {event["id"] for event in map(json.loads, lines) if event["event"] == "row"}


@pytest.fixture
def hubs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[RecordingHub]:
    """`hubs[0]` is what `HfApi()` returns; a test swaps it to move a run to another Hub."""
    current = [RecordingHub(tmp_path / "hub")]
    monkeypatch.setattr(tasks.publish.hub, "hub_api", lambda: current[0])
    return current


# 1. A first push never overwrites a repo that appeared after the run found none.


class AppearsAfterRead(RecordingHub):
    """Another writer's first publish lands right after this run has found no raw repo."""

    theirs: RecordingHub | None = None

    def repo_info(self, repo_id: str, repo_type: str) -> Any:
        try:
            return super().repo_info(repo_id, repo_type)
        finally:
            if self.theirs is not None and repo_id.endswith("_raw"):
                theirs, self.theirs = self.theirs, None
                self.adopt(theirs)


def test_a_first_push_never_overwrites_a_repo_that_appeared_meanwhile(
    tmp_path: Path, hubs: list[RecordingHub]
) -> None:
    ours = AppearsAfterRead(tmp_path / "our-hub")
    with OpenAIServer() as server:
        run = ["run", "nld", "--source", "sample", "--push", *real_llm(server)]
        code, output = invoke(*run, "--out", str(tmp_path / "b"))  # run B, on another machine
        assert code == 0, output
        ours.theirs, theirs = hubs[0], hubs[0]
        hubs[0] = ours
        code, output = invoke(*run, "--limit", "5", "--out", str(tmp_path / "a"))
        assert code == 1
        assert "dpo-factory/aya_dutch_dpo_raw changed on the Hub during this run" in output
        assert len(ours.commits) == 2  # B's two; A's commit was refused
        for repo in (RAW, CURATED):
            assert files(ours.root / repo) == files(theirs.root / repo)
        assert journal_rows(tmp_path / "a") == 5  # A's rows stay in its journal ...

        calls = server.log.calls()
        code, output = invoke(*run, "--out", str(tmp_path / "a"))
        assert code == 0, output
        assert server.log.calls() == calls  # ... until a run finds them published (by B)
    assert read(ours.root, RAW, "data").height == 10
    assert not (tmp_path / "a" / JOURNAL).exists()


def test_a_repo_read_as_missing_is_built_on_only_while_it_is_empty(hubs: list[RecordingHub]) -> None:
    """Empty (only what the Hub puts in a new repo): created by this run, or by an earlier attempt of
    this publish that failed at the commit. Anything more is another writer's data."""
    hub = hubs[0]
    ours = DatasetRepo("ns/ours", "card", {"data/train-00000-of-00001-aaaaaaaaaaaa.parquet": b"ours"})
    hub.create_repo("ns/ours", repo_type="dataset", private=True)  # the earlier attempt got this far
    heads: dict[str, str | None] = {"ns/ours": None}
    push([ours], True, "first publish", heads)
    assert hub.commits[-1]["parent_commit"] == "ns/ours@initial"  # on top of the empty repo, checked
    assert heads["ns/ours"] == hub.heads["ns/ours"]

    hub.create_repo("ns/theirs", repo_type="dataset", private=True)
    theirs = [CommitOperationAdd("data/train-00000-of-00001-bbbbbbbbbbbb.parquet", b"theirs")]
    hub.create_commit("ns/theirs", theirs, "another writer", "dataset")
    commits = len(hub.commits)
    mine = DatasetRepo("ns/theirs", "card", {"data/train-00000-of-00001-cccccccccccc.parquet": b"mine"})
    with pytest.raises(ConcurrentWriteError, match="ns/theirs changed on the Hub during this run"):
        push([mine], True, "first publish", {"ns/theirs": None})
    assert len(hub.commits) == commits
    assert set(hub.list_repo_files("ns/theirs", "dataset")) == {
        ".gitattributes",
        "data/train-00000-of-00001-bbbbbbbbbbbb.parquet",
    }


# 2. Offline placeholder rows are never done work for a real generator, and never pushed.


def test_placeholder_rows_are_redone_by_a_real_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = invoke("run", "nld", "--source", "sample", "--offline", "--out", str(out))
    assert code == 0, output
    offline = read(out, RAW, "data")
    with OpenAIServer() as server:
        code, output = invoke("run", "nld", "--source", "sample", "--out", str(out), *real_llm(server))
        assert code == 0, output
        assert server.log.calls("generate") == offline.height
    raw = read(out, RAW, "data")
    assert raw["id"].sort().equals(offline["id"].sort())
    assert set(raw["generation_model"]) == {"real-model"} and set(raw["model_name"]) == {"real-model"}
    assert set(raw["status"]) == {"judged"}
    assert raw["attempts"].to_list() == [1] * raw.height  # the placeholder made no request
    pairs = read(out, CURATED, "default")
    assert pairs.height and PLACEHOLDER_NOTE not in str(pairs.to_dicts())
    for repo in (RAW, CURATED):
        card = (out / repo / "README.md").read_text(encoding="utf-8")
        assert "**Generator**: `real-model`" in card and "**Judge**: `real-model`" in card
        assert PLACEHOLDER_MODEL not in card


def test_the_card_names_the_models_that_wrote_the_published_answers(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert invoke("run", "nld", "--source", "sample", "--offline", "--out", str(out))[0] == 0
    with OpenAIServer() as server:
        code, output = invoke(
            "run", "nld", "--source", "sample", "--out", str(out), *real_llm(server), "--limit", "4"
        )
        assert code == 0, output
    raw = read(out, RAW, "data")
    assert raw["generation_model"].value_counts().sort("generation_model").rows() == [
        (PLACEHOLDER_MODEL, raw.height - 4),
        ("real-model", 4),
    ]
    card = (out / RAW / "README.md").read_text(encoding="utf-8")
    assert f"**Generator**: `{PLACEHOLDER_MODEL}`, `real-model`" in card
    assert f"**Judge**: `{PLACEHOLDER_MODEL}`, `real-model`" in card


def test_offline_push_is_refused_before_anything_runs(tmp_path: Path, hubs: list[RecordingHub]) -> None:
    out = tmp_path / "out"
    code, output = invoke("run", "nld", "--source", "sample", "--offline", "--push", "--out", str(out))
    assert code == 2
    assert output.startswith("error: --offline") and output.count("\n") == 1, output
    assert hubs[0].repos == {} and hubs[0].commits == []
    assert not out.exists()


# 3. Checkpoints forget what they published; an attempt counts only when a request was made.


def _kept_prompts(sample: pl.DataFrame) -> list[str]:
    kept = filter_rows(sample, load_language("nld")).kept
    return kept["inputs"].str.strip_chars().to_list()


def _refusing(refused: dict[str, int]) -> OpenAIServer:
    """A server that answers the generation requests of the given prompts with an HTTP status."""

    def script(kind: str, user: str, messages: list) -> Reply | None:
        return Reply(status=refused[user]) if kind == "generate" and user in refused else None

    return OpenAIServer(script=script)


def _stopped_after_a_checkpoint(args: list[str], refused: dict[str, int], bad: str) -> OpenAIServer:
    """A run that ends after a checkpoint without its final publish, as a kill would: the generator
    refuses `bad` with 401, which stops the LLM stage; every checkpoint before it is published."""
    with _refusing({**refused, bad: 401}) as server:
        code, output = invoke(*args, *real_llm(server))
        assert code == 1 and "refused the request" in output, output
    return server


def test_checkpoints_forget_what_they_published(sample: pl.DataFrame, tmp_path: Path) -> None:
    prompts, out = _kept_prompts(sample), tmp_path / "out"
    refused = prompts[0]  # the first row: its failure is in the first checkpoint
    args = ["run", "nld", "--source", "sample", "--out", str(out), "--concurrency", "1",
            "--checkpoint-every", "1"]  # fmt: skip
    first = _stopped_after_a_checkpoint(args, {refused: 400}, bad=prompts[2])
    assert generations_for(first, refused) == 1
    raw = read(out, RAW, "data")
    assert raw.filter(pl.col("instruction") == refused)["status"].to_list() == ["failed"]
    assert not journal_ids(out) & set(raw["id"])  # what the checkpoints published left the journal

    second = _stopped_after_a_checkpoint(args, {}, bad=prompts[-1])  # healthy, then killed
    with OpenAIServer() as third:
        code, output = invoke(*args, *real_llm(third))
        assert code == 0, output
    assert generations_for(second, refused) + generations_for(third, refused) == 1
    raw = read(out, RAW, "data")
    row = raw.filter(pl.col("instruction") == refused)
    assert row["status"].to_list() == ["judged"] and row["attempts"].to_list() == [2]
    assert set(raw["status"]) == {"judged"} and raw.height == len(prompts)
    assert not (out / JOURNAL).exists()  # every row is published: nothing left in the journal


def test_retry_failed_makes_a_request_for_a_row_a_checkpoint_gave_up(
    sample: pl.DataFrame, tmp_path: Path
) -> None:
    prompts, out = _kept_prompts(sample), tmp_path / "out"
    languages = copy_configs(tmp_path / "languages")
    config = yaml.safe_load((languages / "nld.yaml").read_text(encoding="utf-8"))
    (languages / "nld.yaml").write_text(yaml.safe_dump({**config, "max_attempts": 1}), encoding="utf-8")
    refused = prompts[0]
    args = ["run", "nld", "--source", "sample", "--out", str(out), "--concurrency", "1",
            "--checkpoint-every", "1", "--languages-dir", str(languages)]  # fmt: skip
    _stopped_after_a_checkpoint(args, {refused: 400}, bad=prompts[2])
    row = read(out, RAW, "data").filter(pl.col("instruction") == refused)
    assert row["status"].to_list() == ["gave_up"] and row["attempts"].to_list() == [1]
    with OpenAIServer() as server:
        code, output = invoke(*args, *real_llm(server), "--retry-failed")
        assert code == 0, output
        assert generations_for(server, refused) == 1
    row = read(out, RAW, "data").filter(pl.col("instruction") == refused)
    assert row["status"].to_list() == ["judged"] and row["attempts"].to_list() == [2]


# 4. A rerun never pushes a stale curated repo over another writer's newer one.


class CommitsAfterRead(RecordingHub):
    """Another writer commits raw and curated right after this run has read the raw data."""

    theirs: RecordingHub | None = None

    def hf_hub_download(
        self, repo_id: str, filename: str, repo_type: str, revision: str | None = None
    ) -> str:
        path = super().hf_hub_download(repo_id, filename, repo_type, revision)
        if self.theirs is not None and filename.startswith("data/"):
            theirs, self.theirs = self.theirs, None
            self.adopt(theirs)
        return path


def test_a_rerun_never_pushes_a_stale_curated_repo(
    sample: pl.DataFrame, tmp_path: Path, hubs: list[RecordingHub]
) -> None:
    everything, part = tmp_path / "all.parquet", tmp_path / "part.parquet"
    dutch_source(sample, everything)
    pl.read_parquet(everything).head(24).write_parquet(part)
    ours = CommitsAfterRead(tmp_path / "our-hub")
    with OpenAIServer() as server:
        code, output = invoke("run", "nld", "--source", str(everything), "--push", *real_llm(server),
                              "--out", str(tmp_path / "b"))  # fmt: skip
        assert code == 0, output
        theirs, hubs[0] = hubs[0], ours
        run_a = [
            "run",
            "nld",
            "--source",
            str(part),
            "--push",
            *real_llm(server),
            "--out",
            str(tmp_path / "a"),
        ]
        code, output = invoke(*run_a)
        assert code == 0, output
        ours.theirs = theirs
        commits = len(ours.commits)
        code, output = invoke(*run_a)  # nothing new for A: a no-op, while B commits
        assert code == 0, output
    assert len(ours.commits) == commits + 2  # B's raw and curated, nothing of A's on top
    for repo in (RAW, CURATED):
        assert files(ours.root / repo) == files(theirs.root / repo)
    assert read(ours.root, CURATED, "default").height == read(theirs.root, CURATED, "default").height
