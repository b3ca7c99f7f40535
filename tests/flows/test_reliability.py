"""Faults, crashes and bad input, with nothing lost.

The run meets 429s (with Retry-After), 500s, requests that hang past the client timeout and
unparseable judge outputs. It must finish, account for every row, and a rerun against a healthy
server must judge every failed row without duplicates and without buying answers twice.
"""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from flows.cli import app
from tasks.llm.judge import JUDGE_FAILURES
from tasks.publish.destination import read_local_raw
from tests.flows.test_resume import dutch_source
from tests.helpers import copy_configs
from tests.openai_server import OpenAIServer, Reply

FAULTS = {"429": 0.10, "500": 0.10, "hang": 0.03, "unparseable_judge": 0.10}


def faulty_script(seed: int = 7):
    rng, lock = random.Random(seed), threading.Lock()

    def script(kind: str, user: str, messages: list) -> Reply | None:
        with lock:
            draw, judge_draw = rng.random(), rng.random()
        if draw < FAULTS["429"]:
            return Reply(status=429, headers={"Retry-After": "0.05"})
        if draw < FAULTS["429"] + FAULTS["500"]:
            return Reply(status=500)
        if draw < FAULTS["429"] + FAULTS["500"] + FAULTS["hang"]:
            time.sleep(1.5)  # past the client's 1 s timeout
            return None
        if kind == "judge" and judge_draw < FAULTS["unparseable_judge"]:
            return Reply("Both texts are fine. I would rather not give numbers.")
        return None

    return script


def fault_configs(folder: Path) -> Path:
    """The shipped configs, with a 1 s client timeout and one retry for Dutch."""
    copy_configs(folder)
    data = yaml.safe_load((folder / "nld.yaml").read_text(encoding="utf-8"))
    for endpoint in ("generation", "judge"):
        data[endpoint] |= {"timeout_seconds": 1, "max_retries": 1}
    (folder / "nld.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    return fault_configs(tmp_path / "languages")


def run(source: Path, out: Path, server: OpenAIServer, configs: Path, summary: Path) -> dict:
    result = CliRunner().invoke(
        app,
        ["run", "nld", "--source", str(source), "--out", str(out), "--llm-base-url", server.base_url,
         "--llm-model", "m", "--concurrency", "8", "--languages-dir", str(configs), "--summary-json", str(summary)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (report,) = json.loads(summary.read_text(encoding="utf-8"))["languages"]
    return report


def test_faults_lose_no_row_and_a_rerun_heals_them(
    sample: pl.DataFrame, tmp_path: Path, configs: Path
) -> None:
    source, out = tmp_path / "dutch.parquet", tmp_path / "out"
    rows = dutch_source(sample, source)
    with OpenAIServer(faulty_script()) as server:
        report = run(source, out, server, configs, tmp_path / "faulty.json")

    flt, this_run, llm = report["filter"], report["this_run"], report["llm_stage"]
    assert flt["rows_in"] == flt["kept"] + sum(flt["dropped"].values()) == rows
    assert report["processed"] == flt["kept"] == this_run["judged"] + this_run["failed"]
    assert this_run["failed"] == sum(llm["failures"].values()) > 0
    assert set(llm["failures"]) <= {"generation_error", "judge_error", *JUDGE_FAILURES}
    assert sum(llm["retries"].values()) > 0
    raw = read_local_raw(out, "dpo-factory/aya_dutch_dpo_raw")
    assert raw.height == flt["kept"] and raw["id"].is_unique().all()
    failed = raw.filter(pl.col("status") == "failed")
    assert failed.height == this_run["failed"] and failed["failure_reason"].null_count() == 0
    answered_before = failed.filter(pl.col("generation").is_not_null()).height

    with OpenAIServer() as healthy:
        again = run(source, out, healthy, configs, tmp_path / "healthy.json")
        calls = healthy.log.calls("generate"), healthy.log.calls("judge")
    raw = read_local_raw(out, "dpo-factory/aya_dutch_dpo_raw")
    assert raw.height == rows and raw["id"].is_unique().all()
    assert (raw["status"] == "judged").all()
    assert again["processed"] == this_run["failed"]
    # Each failed row is judged once more; only rows without an answer are generated again.
    assert calls == (this_run["failed"] - answered_before, this_run["failed"])
    assert again["llm_stage"]["resumed_generations"] == answered_before
