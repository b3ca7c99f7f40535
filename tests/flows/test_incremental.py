"""Runs that nobody watches: every run publishes the state (published raw rows, this run's rows, the
current config), progress survives a fresh worker, two runs never buy the same rows, and hopeless
rows are given up."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import polars as pl
import yaml
from typer.testing import CliRunner

from flows.cli import app
from tasks.publish.destination import recover_local
from tests.flows.test_resume import dutch_source, run_args
from tests.helpers import copy_configs, sigkill_cli
from tests.openai_server import OpenAIServer, Reply, Script

RAW = Path("dpo-factory") / "aya_dutch_dpo_raw"
CURATED = Path("dpo-factory") / "aya_dutch_dpo"


def invoke(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stdout + result.stderr


def answers_bought(server: OpenAIServer, prompts: set[str]) -> int:
    """Generation requests for the source's prompts (a pre-flight probe is not an answer)."""
    return sum(1 for r in server.log.requests if r["kind"] == "generate" and r["user"] in prompts)


def read(out: Path, repo: Path, folder: str) -> pl.DataFrame:
    (path,) = (out / repo / folder).glob("train-*.parquet")
    return pl.read_parquet(path)


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def edit_config(folder: Path, **sections: dict) -> Path:
    """A copy of the configs with sections of nld.yaml changed."""
    copy_configs(folder)
    path = folder / "nld.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for section, values in sections.items():
        data[section].update(values)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


def test_lost_curated_repo_is_rebuilt_with_no_llm_call(sample: pl.DataFrame, tmp_path: Path) -> None:
    source, out = tmp_path / "nl.parquet", tmp_path / "out"
    dutch_source(sample, source)
    with OpenAIServer() as server:
        assert invoke(run_args(source, out, server))[0] == 0
        curated_before, raw_before = files(out / CURATED), files(out / RAW)
        calls = server.log.calls()
        shutil.rmtree(out / CURATED)  # the second write of a run was lost
        code, output = invoke(run_args(source, out, server))
        assert code == 0, output
        assert server.log.calls() == calls
    assert files(out / CURATED) == curated_before
    assert files(out / RAW) == raw_before


def test_rerun_with_nothing_new_rewrites_nothing(sample: pl.DataFrame, tmp_path: Path) -> None:
    source, out = tmp_path / "nl.parquet", tmp_path / "out"
    dutch_source(sample, source)
    with OpenAIServer() as server:
        assert invoke(run_args(source, out, server))[0] == 0
        stamps = {p: p.stat().st_mtime_ns for p in out.joinpath("dpo-factory").rglob("*") if p.is_file()}
        code, output = invoke(run_args(source, out, server))
    assert code == 0 and "nothing changed" in output
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_a_changed_curation_rule_applies_to_published_rows(sample: pl.DataFrame, tmp_path: Path) -> None:
    source, out = tmp_path / "nl.parquet", tmp_path / "out"
    dutch_source(sample, source)
    strict = edit_config(tmp_path / "strict", curation={"min_margin": 3})
    with OpenAIServer() as server:
        assert invoke(run_args(source, out, server))[0] == 0
        pairs = read(out, CURATED, "default")
        calls = server.log.calls()
        code, output = invoke([*run_args(source, out, server), "--languages-dir", str(strict)])
        assert code == 0, output
        assert server.log.calls() == calls
    stricter = read(out, CURATED, "default")
    margins = pairs["chosen_rating"] - pairs["rejected_rating"]
    assert 0 < stricter.height < pairs.height
    assert set(stricter["id"]) == set(pairs.filter(margins >= 3)["id"])


def test_a_stricter_filter_takes_rows_out_of_curated_and_marks_them_in_raw(
    sample: pl.DataFrame, tmp_path: Path
) -> None:
    source, out = tmp_path / "nl.parquet", tmp_path / "out"
    dutch_source(sample, source)
    with OpenAIServer() as server:
        assert invoke(run_args(source, out, server))[0] == 0
        raw_before = read(out, RAW, "data")
        bound = int(raw_before["instruction"].str.len_chars().median())
        stricter = edit_config(tmp_path / "strict", filters={"max_prompt_chars": bound})
        calls = server.log.calls()
        code, output = invoke([*run_args(source, out, server), "--languages-dir", str(stricter)])
        assert code == 0, output
        assert server.log.calls() == calls
    raw = read(out, RAW, "data")
    too_long = raw["instruction"].str.strip_chars().str.len_chars() > bound
    assert raw.height == raw_before.height  # raw keeps every row ...
    assert set(raw.filter(too_long)["excluded_reason"]) == {"prompt_too_long"}  # ... marked
    assert raw.filter(~too_long)["excluded_reason"].null_count() == raw.filter(~too_long).height
    curated = read(out, CURATED, "default")
    assert curated.height and not set(curated["id"]) & set(raw.filter(too_long)["id"])
    assert "excluded_by_filter" in output or "excluded" in output


def test_hopeless_rows_are_given_up_after_max_attempts(sample: pl.DataFrame, tmp_path: Path) -> None:
    source, out = tmp_path / "nl.parquet", tmp_path / "out"
    rows = dutch_source(sample, source)
    hopeless = sorted(pl.read_parquet(source)["inputs"].str.strip_chars().head(3))

    def context_too_long(kind: str, user: str, messages: list) -> Reply | None:
        return Reply(status=400) if kind == "generate" and user in hopeless else None

    with OpenAIServer(script=context_too_long) as server:
        for _ in range(3):  # three runs of 20 rows: the hopeless rows are tried in each
            assert invoke([*run_args(source, out, server), "--limit", "20"])[0] == 0
        raw = read(out, RAW, "data")
        given_up = raw.filter(pl.col("status") == "gave_up")
        assert sorted(given_up["instruction"]) == hopeless
        assert given_up["attempts"].to_list() == [3, 3, 3]
        assert set(given_up["failure_reason"]) == {"generation_error"}

        before = {p: sum(1 for r in server.log.requests if r["user"] == p) for p in hopeless}
        code, output = invoke(run_args(source, out, server))  # no limit: every other row
        assert code == 0, output
        assert {p: sum(1 for r in server.log.requests if r["user"] == p) for p in hopeless} == before
        assert "3 given up" in output
        raw = read(out, RAW, "data")
        assert raw.height == rows and (raw["status"] == "judged").sum() == rows - 3

        assert invoke([*run_args(source, out, server), "--retry-failed"])[0] == 0
        assert all(sum(1 for r in server.log.requests if r["user"] == p) == before[p] + 1 for p in hopeless)
    assert read(out, RAW, "data").filter(pl.col("status") == "gave_up")["attempts"].to_list() == [4, 4, 4]


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [shutil.which("dpo-factory"), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
        text=True,
    )


def _published_rows(out: Path) -> int:
    paths = list((out / RAW / "data").glob("train-*.parquet")) if (out / RAW).is_dir() else []
    try:
        return sum(pl.read_parquet(path).height for path in paths)
    except Exception:  # a file being swapped in: look again
        return 0


def _no_further_than_a_checkpoint(out: Path, every: int, released: threading.Event) -> Script:
    """A server script that holds each generation until the run has published all but `every` rows before it.

    The run can then never be more than one interval (plus its requests in flight) past its last
    checkpoint, however slow the machine: it only moves on if checkpoints land every `every` rows.
    """
    lock, bought = threading.Lock(), 0

    def script(kind: str, user: str, messages: list[dict[str, str]]) -> None:
        nonlocal bought
        if kind != "generate":
            return None
        with lock:
            bought += 1
            number = bought
        while number > _published_rows(out) + every and not released.is_set():
            time.sleep(0.05)
        return None

    return script


def test_fresh_worker_resumes_from_the_last_checkpoint(sample: pl.DataFrame, tmp_path: Path) -> None:
    source, out = tmp_path / "nl.parquet", tmp_path / "out"
    rows = dutch_source(sample, source)
    prompts = set(pl.read_parquet(source)["inputs"].str.strip_chars())
    every, concurrency = 10, 4
    released = threading.Event()
    with OpenAIServer(_no_further_than_a_checkpoint(out, every, released)) as server:
        args = [*run_args(source, out, server), "--checkpoint-every", str(every)]
        process = _start(args)
        deadline = time.monotonic() + 240
        while _published_rows(out) < 3 * every and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert sigkill_cli(process) == []  # no Prefect server left behind
        recover_local((out / RAW).resolve())  # a kill in the middle of a swap: as the next run sees it
        checkpointed = _published_rows(out)
        # Three checkpoints landed while the run was held to one interval past its last one.
        assert 3 * every <= checkpointed < rows, "the kill must land after a checkpoint, inside the LLM stage"
        first = answers_bought(server, prompts)
        assert checkpointed <= first <= checkpointed + every + concurrency
        released.set()

        shutil.rmtree(out / ".journal")  # a fresh machine: only what was published survives
        code, output = invoke(args)
        assert code == 0, output
        second = answers_bought(server, prompts) - first
    # Bought again: exactly the answers after the last checkpoint, none it published.
    assert second == rows - checkpointed
    raw = read(out, RAW, "data")
    assert raw.height == rows and raw["id"].is_unique().all() and (raw["status"] == "judged").all()


def test_two_overlapping_runs_never_buy_the_same_rows(sample: pl.DataFrame, tmp_path: Path) -> None:
    source, out = tmp_path / "nl.parquet", tmp_path / "out"
    rows = dutch_source(sample, source)
    prompts = set(pl.read_parquet(source)["inputs"].str.strip_chars())
    # Slow enough that the first run is still buying answers while the second starts on a busy machine.
    with OpenAIServer(latency=lambda: 0.15) as server:
        first = _start(run_args(source, out, server))
        deadline = time.monotonic() + 240
        while answers_bought(server, prompts) < 5 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.02)
        code, output = invoke(run_args(source, out, server))  # a manual run during the scheduled one
        assert code == 1
        assert "nld: another run is already working on" in output and "Traceback" not in output
        assert first.wait(timeout=240) == 0, first.stderr.read()
        assert answers_bought(server, prompts) == rows
    assert read(out, RAW, "data").height == rows
