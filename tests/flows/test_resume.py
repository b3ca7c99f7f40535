"""Kill a run with SIGKILL in the middle of the LLM stage; the rerun finishes the job without paying twice."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import datasets
import polars as pl
from typer.testing import CliRunner

from flows.cli import app
from languages.schema import load_language
from tasks.filter.rules import filter_rows
from tests.helpers import sigkill_cli
from tests.openai_server import OpenAIServer

CONCURRENCY = 4
COPIES = 12


# Different openings keep the copies of one prompt apart for the near-duplicate check too.
OPENINGS = [
    "Ik vraag me al een tijd af:", "Mijn dochter wil het graag weten:", "Voor een werkstuk op school:",
    "Een vraag van mijn buurman:", "Kun je me hiermee helpen?", "Iets heel anders nu:",
    "Hier twijfel ik al weken over:", "Onze leesclub kwam hierop uit:", "Voor de pubquiz van vrijdag:",
    "Mijn opa vroeg het laatst:", "Op het werk ging het hierover:", "Graag een duidelijke uitleg:",
]  # fmt: skip


def dutch_source(sample: pl.DataFrame, path: Path) -> int:
    """Many distinct Dutch rows made from the sample's: each prompt asked with several openings."""
    kept = filter_rows(sample, load_language("nld")).kept.select(sample.columns)
    copies = [
        kept.with_columns(inputs=pl.format("{} {}", pl.lit(opening), pl.col("inputs")))
        for opening in OPENINGS[:COPIES]
    ]
    pl.concat(copies).write_parquet(path)
    return kept.height * COPIES


def run_args(source: Path, out: Path, server: OpenAIServer) -> list[str]:
    return [
        "run", "nld", "--source", str(source), "--out", str(out), "--llm-base-url", server.base_url,
        "--llm-model", "test-model", "--concurrency", str(CONCURRENCY),
    ]  # fmt: skip


def published(out: Path) -> pl.DataFrame:
    raw = datasets.load_dataset(str(out / "dpo-factory" / "aya_dutch_dpo_raw"), split="train").to_polars()
    return raw.select("id", "status", "ratings", "generation").sort("id")


def test_sigkill_mid_llm_stage_then_rerun(sample: pl.DataFrame, tmp_path: Path) -> None:
    source = tmp_path / "dutch.parquet"
    rows = dutch_source(sample, source)
    out = tmp_path / "out"
    with OpenAIServer(latency=lambda: 0.02) as server:
        process = subprocess.Popen(
            [shutil.which("dpo-factory"), *run_args(source, out, server)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=os.environ.copy(),
        )
        deadline = time.monotonic() + 180
        while server.log.calls() < rows and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.01)
        assert sigkill_cli(process) == []  # the CLI's Prefect server ended with it
        first_calls = server.log.calls()
        assert 0 < first_calls < 2 * rows, "the kill must land inside the LLM stage"
        journal = out / ".journal" / "dpo-factory" / "aya_dutch_dpo_raw.jsonl"
        assert journal.is_file()
        assert not (out / "dpo-factory").exists()  # nothing was published by the killed run

        result = CliRunner().invoke(app, run_args(source, out, server))
        assert result.exit_code == 0, result.output
        total_calls = server.log.calls()
    assert total_calls - 2 * rows <= CONCURRENCY  # only calls in flight at the kill are repeated
    assert "resumed" in result.output
    assert not journal.exists()  # published: the raw dataset is the record now

    reference_out = tmp_path / "reference"
    with OpenAIServer() as server:
        result = CliRunner().invoke(app, run_args(source, reference_out, server))
        assert result.exit_code == 0, result.output
    resumed, reference = published(out), published(reference_out)
    assert resumed.height == rows
    assert resumed.equals(reference)


def test_new_rows_cost_exactly_two_calls_each(sample: pl.DataFrame, tmp_path: Path) -> None:
    source = tmp_path / "dutch.parquet"
    rows = dutch_source(sample, source)
    everything = pl.read_parquet(source)
    first_part = tmp_path / "first.parquet"
    everything.head(rows - 5).write_parquet(first_part)
    out = tmp_path / "out"
    with OpenAIServer() as server:
        assert CliRunner().invoke(app, run_args(first_part, out, server)).exit_code == 0
        before = server.log.calls()
        assert before == 2 * (rows - 5)
        result = CliRunner().invoke(app, run_args(source, out, server))
        assert result.exit_code == 0, result.output
        assert server.log.calls() - before == 2 * 5
    raw = published(out)
    assert raw.height == rows and raw["id"].is_unique().all()


def _start(source: Path, out: Path, server: OpenAIServer) -> subprocess.Popen:
    return subprocess.Popen(
        [shutil.which("dpo-factory"), *run_args(source, out, server)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )


def _kill_when(process: subprocess.Popen, ready, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not ready() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.005)
    assert sigkill_cli(process) == []


def test_sigkill_before_the_llm_stage_and_after_it(sample: pl.DataFrame, tmp_path: Path) -> None:
    source = tmp_path / "dutch.parquet"
    rows = dutch_source(sample, source)
    out = tmp_path / "out"
    with OpenAIServer() as server:
        # 1. During start-up and loading: nothing has been asked of the LLM or written yet.
        started = time.monotonic()
        _kill_when(_start(source, out, server), lambda: time.monotonic() - started > 3)
        assert server.log.calls() == 0
        assert not (out / "dpo-factory").exists()
        # 2. The moment the journal holds the last finished row: the kill lands in formatting or publishing.
        journal = out / ".journal" / "dpo-factory" / "aya_dutch_dpo_raw.jsonl"

        def all_rows_journaled() -> bool:
            text = journal.read_text(encoding="utf-8") if journal.is_file() else ""
            return text.count('"event": "row"') >= rows

        _kill_when(_start(source, out, server), all_rows_journaled)
        calls = server.log.calls()
        # 3. The rerun finishes from the journal (and whatever was published) without new calls.
        result = CliRunner().invoke(app, run_args(source, out, server))
        assert result.exit_code == 0, result.output
        assert server.log.calls() == calls
    names = sorted(p.name for p in (out / "dpo-factory").iterdir())
    assert names == ["aya_dutch_dpo", "aya_dutch_dpo_raw"]  # no staging or half-swapped folders left
    assert not journal.exists()

    reference_out = tmp_path / "reference"
    with OpenAIServer() as server:
        assert CliRunner().invoke(app, run_args(source, reference_out, server)).exit_code == 0
    assert published(out).equals(published(reference_out))
