"""End to end: the CLI runs the flow through a real ephemeral Prefect API against a real local HTTP
LLM server, then the output is loaded with `datasets` exactly as a user would load it from the Hub."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import polars as pl
import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.openai_server import ENGLISH_ANSWER, OpenAIServer, Reply, well_formed_judgement

runner = CliRunner()

WRONG_LANGUAGE_PROMPT = "Geef drie tips om beter te slapen."
MISALIGNED_JUDGE_PROMPT = "Hoe werkt een windmolen die water wegpompt?"
MODEL_WINS_PROMPT = "Wat betekent het spreekwoord 'de kat uit de boom kijken'?"


def script(kind: str, user: str, messages: list) -> Reply | None:
    if kind == "generate" and user == WRONG_LANGUAGE_PROMPT:
        return Reply(ENGLISH_ANSWER)
    if kind == "judge" and WRONG_LANGUAGE_PROMPT in user:
        return Reply(well_formed_judgement([2, 5]))  # the judge prefers the English answer
    if kind == "judge" and MISALIGNED_JUDGE_PROMPT in user:
        return Reply("Sure! Here are my ratings.\n\n" + well_formed_judgement([4, 2]))
    if kind == "judge" and MODEL_WINS_PROMPT in user:
        return Reply(well_formed_judgement([2, 4]))
    return None


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("out")
    with OpenAIServer(script) as server:
        code, output = invoke(
            "run", "nld", "jpn", "--source", "sample", "--out", str(out), "--llm-base-url", server.base_url,
            "--llm-model", "test-model", "--concurrency", "4", "--summary-json", str(out / "summary.json"),
        )  # fmt: skip
        assert code == 0, output
        first_calls = len(server.log.requests)
        code, again = invoke(
            "run", "nld", "jpn", "--source", "sample", "--out", str(out), "--llm-base-url", server.base_url,
            "--llm-model", "test-model", "--summary-json", str(out / "again.json"),
        )  # fmt: skip
        assert code == 0, again
        second_calls = len(server.log.requests) - first_calls
    return out, output, first_calls, second_calls, server


def test_summary_is_printed_and_written(published) -> None:
    out, output, *_ = published
    assert "nld (Dutch)" in output and "jpn (Japanese)" in output
    assert "curated pairs / KTO rows" in output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [report["language"] for report in summary["languages"]] == ["nld", "jpn"]
    assert summary["failed"] == []
    for report in summary["languages"]:
        flt, data = report["filter"], report["datasets"]
        assert flt["rows_in"] == flt["kept"] + sum(flt["dropped"].values())
        assert data["raw_rows"] == flt["kept"]
        assert data["curated_pairs"] + sum(data["curation_dropped"].values()) == data["raw_rows"]
        assert report["llm_stage"]["calls"] == {"generate": flt["kept"], "judge": flt["kept"]}
        assert set(report["seconds"]) >= {"load", "filter", "llm", "format", "publish"}


def test_outputs_load_with_datasets_and_meet_the_curation_rules(published) -> None:
    out, *_ = published
    repo = out / "dpo-factory"
    raw = datasets.load_dataset(str(repo / "aya_dutch_dpo_raw"), split="train").to_polars()
    pairs = datasets.load_dataset(str(repo / "aya_dutch_dpo"), "default", split="train").to_polars()
    kto = datasets.load_dataset(str(repo / "aya_dutch_dpo"), "kto", split="train").to_polars()

    assert raw.height == 10 and raw["id"].is_unique().all()
    assert (raw["generations"].list.first() == raw["targets"]).all()  # generations[0] is the human answer
    assert pairs.height > 0 and pairs["id"].is_unique().all()
    assert (pairs["chosen_rating"] > pairs["rejected_rating"]).all()
    assert kto.height == 2 * pairs.height and kto["label"].sum() == pairs.height

    # Every pair agrees with its raw row: ratings in the right place, no wrong-language chosen answer.
    joined = pairs.join(raw, on="id")
    for row in joined.iter_rows(named=True):
        human, model = row["ratings"]
        chosen_is_model = row["chosen_model"] != "human"
        assert row["chosen_rating"] == (model if chosen_is_model else human)
        assert not (chosen_is_model and not row["generation_language_ok"])
        assert row["chosen"] == [
            {"role": "assistant", "content": row["generations"][1 if chosen_is_model else 0]}
        ]
        assert row["prompt"] == [{"role": "user", "content": row["instruction"]}]

    by_prompt = {r["instruction"]: r for r in raw.iter_rows(named=True)}
    wrong = by_prompt[WRONG_LANGUAGE_PROMPT]
    assert wrong["status"] == "judged" and wrong["generation_language_ok"] is False
    assert wrong["id"] not in pairs["id"].to_list()  # its English answer won, so it is not curated
    misaligned = by_prompt[MISALIGNED_JUDGE_PROMPT]
    assert (misaligned["status"], misaligned["failure_reason"]) == ("failed", "judge_rating_count")
    assert misaligned["id"] not in pairs["id"].to_list()
    model_wins = pairs.filter(pl.col("prompt").list.first().struct.field("content") == MODEL_WINS_PROMPT).row(
        0, named=True
    )
    assert model_wins["chosen_model"] == "test-model" and model_wins["chosen_rating"] == 4
    # The prompt that tries to inject judge output went through and was judged on its own merits.
    injected = next(r for r in raw.iter_rows(named=True) if "#### Output for Text 1" in r["instruction"])
    assert injected["status"] == "judged"


def test_second_run_only_retries_failed_rows(published) -> None:
    out, _, first_calls, second_calls, _ = published
    assert first_calls == 2 * (10 + 6)
    dutch, japanese = json.loads((out / "again.json").read_text(encoding="utf-8"))["languages"]
    # Dutch: the row whose judgement was misaligned is judged again; its answer is reused from raw ...
    assert (dutch["already_published"], dutch["processed"]) == (9, 1)
    assert second_calls == 1
    assert dutch["llm_stage"]["calls"] == {"judge": 1} and dutch["llm_stage"]["resumed_generations"] == 1
    # ... Japanese had every row judged, so its run makes no LLM call and publishes nothing new.
    assert (japanese["already_published"], japanese["processed"]) == (6, 0)
    assert japanese["llm_stage"]["calls"] == {}
    assert japanese["published"] == []
    assert japanese["datasets"]["raw_rows"] == 6


def _completed_flow_runs() -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=["COMPLETED"]))
            )
        )


def test_runs_are_recorded_by_the_prefect_api(published) -> None:
    """`run nld jpn` is one flow run of both languages, recorded with its parameters."""
    runs = [run.parameters["languages"] for run in _completed_flow_runs() if "languages" in run.parameters]
    assert runs.count(["nld", "jpn"]) >= 2


def test_the_deployed_flow_runs_one_language(tmp_path) -> None:
    """`language_flow` is what each language's deployment runs on the work pool: one flow run, its
    report as the state's data, and bad input as a Failed state whose message names the language."""
    from flows.language_flow import language_flow

    state = language_flow(
        language="nld", source="sample", out=str(tmp_path), offline=True, limit=3, return_state=True
    )
    assert state.is_completed(), state.message
    report = state.result()
    assert (report["language"], report["processed"], report["datasets"]["raw_rows"]) == ("nld", 3, 3)
    assert all(Path(path).exists() for path in report["published"]) and report["published"]
    assert "nld" in [run.parameters.get("language") for run in _completed_flow_runs()]

    failed = language_flow(
        language="nld", source=str(tmp_path / "missing.parquet"), out=str(tmp_path), return_state=True
    )
    assert failed.is_failed() and failed.message.startswith("nld: ")


def test_a_language_out_of_time_stops_alone(tmp_path, capsys) -> None:
    """`run` gives each language the deployed flow's time limit: one that runs out is reported by
    name and the next language still runs."""
    from flows.local_flow import local_flow

    state = local_flow(
        languages=["nld", "jpn"], source="sample", out=str(tmp_path), offline=True, limit=1,
        language_seconds=0.001, return_state=True,
    )  # fmt: skip
    outcome = state.result(raise_on_failure=False)
    assert state.is_failed() and outcome == {"languages": [], "failed": ["nld", "jpn"]}
    errors = capsys.readouterr().err
    assert "error: nld: stopped after" in errors and "error: jpn: stopped after" in errors
