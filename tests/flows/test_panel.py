"""Several generator models and a panel of judges, end to end against the local OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import polars as pl

from languages.schema import load_language
from tasks.filter.rules import filter_rows
from tasks.format.answers import answers, best_and_worst
from tests.flows.test_incremental import CURATED, RAW, edit_config, invoke, read
from tests.flows.test_resume import dutch_source
from tests.helpers import sigkill_cli
from tests.openai_server import OpenAIServer

ANSWERS = {  # distinct Dutch answers, so no model's answer is a near copy of another's
    "gen-a": "Het hangt ervan af. Begin met een kleine stap, kijk wat goed gaat en verander daarna rustig wat er beter kan.",
    "gen-b": "Een goed antwoord vraagt om geduld: lees eerst alles goed door en schrijf dan je eigen plan op.",
    "gen-c": "Vraag het aan iemand met ervaring, want samen zie je meer en maak je minder fouten onderweg.",
}


CONCURRENCY = 4


def dutch_rows(sample: pl.DataFrame, path: Path) -> int:
    kept = filter_rows(sample, load_language("nld")).kept.select(sample.columns)
    kept.write_parquet(path)
    return kept.height


def run_args(source: Path, out: Path, server: OpenAIServer, languages: Path) -> list[str]:
    return ["run", "nld", "--source", str(source), "--out", str(out), "--llm-base-url", server.base_url,
            "--languages-dir", str(languages), "--concurrency", str(CONCURRENCY)]  # fmt: skip


def run(source: Path, out: Path, server: OpenAIServer, languages: Path, summary: Path) -> dict:
    code, output = invoke([*run_args(source, out, server, languages), "--summary-json", str(summary)])
    assert code == 0, output
    return json.loads(summary.read_text(encoding="utf-8"))


def requests(server: OpenAIServer, kind: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for request in server.log.requests:
        if request["kind"] == kind:
            counts[request["model"]] = counts.get(request["model"], 0) + 1
    return counts


def test_two_generators_then_a_third_buys_only_its_answers(sample: pl.DataFrame, tmp_path: Path) -> None:
    source, out = tmp_path / "nl.parquet", tmp_path / "out"
    rows = dutch_rows(sample, source)
    with OpenAIServer(answers_by_model=ANSWERS) as server:
        two = edit_config(
            tmp_path / "two", generation={"models": ["gen-a", "gen-b"]}, judge={"model": "judge-1"}
        )
        run(source, out, server, two, tmp_path / "one.json")
        # Every model answers every prompt; one judge request rates the three answers of a row together.
        assert requests(server, "generate") == {"gen-a": rows, "gen-b": rows}
        assert requests(server, "judge") == {"judge-1": rows}
        raw = read(out, RAW, "data")
        assert (raw["status"] == "judged").all()
        assert raw["generation_models"].to_list() == [["human", "gen-a", "gen-b"]] * rows
        assert raw["generations"].list.len().to_list() == [3] * rows
        assert all(len(r) == 3 for r in raw["ratings"].to_list())

        # The curated pair is the best-rated answer against the worst-rated one.
        curated = read(out, CURATED, "default").sort("id")
        picked = {}
        for row in raw.iter_rows(named=True):
            best, worst = best_and_worst(answers(row))
            picked[row["id"]] = (best.source, worst.source, best.text, worst.text)
        assert curated.height > 0
        for pair in curated.iter_rows(named=True):
            best_source, worst_source, best_text, worst_text = picked[pair["id"]]
            assert (pair["chosen_model"], pair["rejected_model"]) == (best_source, worst_source)
            assert (pair["chosen"][0]["content"], pair["rejected"][0]["content"]) == (best_text, worst_text)
        assert {"gen-a", "gen-b"} & set(curated["chosen_model"]) and "human" in set(
            curated["rejected_model"]
        ) | set(curated["chosen_model"])

        # The card's model table: one row per source, the human answer first.
        card = (out / CURATED / "README.md").read_text(encoding="utf-8")
        table = card.split("## Models")[1].split("\n## ")[0]
        sources = [
            line.split(" | ")[0] for line in table.splitlines() if line.startswith("| ") and "---" not in line
        ]
        assert sources == ["| source", "| human (Aya)", "| `gen-a`", "| `gen-b`"]

        # `--llm-model` makes one model answer and judge: it leaves the judged rows alone.
        server.log.requests.clear()
        pairs_before = read(out, CURATED, "default").sort("id")
        code, output = invoke([*run_args(source, out, server, two), "--llm-model", "gen-c"])
        assert code == 0, output
        assert server.log.requests == []
        assert read(out, CURATED, "default").sort("id").equals(pairs_before)

        # A third model that fails: the rows stay judged with their pairs, the failure noted on them.
        three = edit_config(
            tmp_path / "three", generation={"models": ["gen-a", "gen-b", "gen-c"]}, judge={"model": "judge-1"}
        )
        server.model_status["gen-c"] = 400
        run(source, out, server, three, tmp_path / "failing.json")
        assert requests(server, "generate") == {"gen-c": rows} and requests(server, "judge") == {}
        raw = read(out, RAW, "data")
        assert (raw["status"] == "judged").all() and raw["generations"].list.len().to_list() == [3] * rows
        assert (raw["failure_reason"] == "generation_error").all() and (raw["attempts"] == 2).all()
        assert read(out, CURATED, "default").sort("id").equals(pairs_before)
        del server.model_status["gen-c"]

        # A third model joins: only its answers are bought, and each row is judged again, once.
        server.log.requests.clear()
        run(source, out, server, three, tmp_path / "two.json")
        assert requests(server, "generate") == {"gen-c": rows}
        assert requests(server, "judge") == {"judge-1": rows}
        raw = read(out, RAW, "data")
        assert raw["generation_models"].to_list() == [["human", "gen-a", "gen-b", "gen-c"]] * rows
        assert raw["generations"].list.get(1).to_list() == [ANSWERS["gen-a"]] * rows  # reused, not bought

        # A model removed from the config: nothing is bought, and its answers leave the curated data.
        server.log.requests.clear()
        fewer = edit_config(
            tmp_path / "fewer", generation={"models": ["gen-b", "gen-c"]}, judge={"model": "judge-1"}
        )
        run(source, out, server, fewer, tmp_path / "three.json")
        assert server.log.requests == []
        curated = read(out, CURATED, "default")
        assert curated.height > 0
        assert "gen-a" not in set(curated["chosen_model"]) | set(curated["rejected_model"])
        card = (out / CURATED / "README.md").read_text(encoding="utf-8")
        assert "| `gen-a` (no longer in the config: left out of the pairs) |" in card


def test_a_panel_of_two_judges_rates_every_row_once_each(sample: pl.DataFrame, tmp_path: Path) -> None:
    source, out = tmp_path / "nl.parquet", tmp_path / "out"
    rows = dutch_rows(sample, source)
    with OpenAIServer(answers_by_model=ANSWERS, judge_seeds={"judge-2": "second opinion"}) as server:
        panel = edit_config(
            tmp_path / "panel", generation={"model": "gen-a"}, judge={"models": ["judge-1", "judge-2"]}
        )
        report = run(source, out, server, panel, tmp_path / "summary.json")
        assert requests(server, "judge") == {"judge-1": rows, "judge-2": rows}
        assert server.log.calls("probe") == 3  # one per distinct model: the generator and both judges
    raw = read(out, RAW, "data")
    assert raw["judge_models"].to_list() == [["judge-1", "judge-2"]] * rows
    for row in raw.iter_rows(named=True):
        first, second = row["judge_ratings"]
        assert row["panel_ratings"] == [(a + b) / 2 for a, b in zip(first, second, strict=True)]
        assert row["ratings"] == first  # the community recipe's column keeps the first judge's
    assert any(r["judge_ratings"][0] != r["judge_ratings"][1] for r in raw.iter_rows(named=True))
    (entry,) = report["languages"]
    agreement = entry["judge_agreement"]
    assert (agreement["judges"], agreement["judged_rows"]) == (2, rows)
    assert agreement["krippendorff_alpha"] is not None and agreement["krippendorff_alpha"] < 1.0


def test_sigkill_with_two_generators_repeats_at_most_the_calls_in_flight(
    sample: pl.DataFrame, tmp_path: Path
) -> None:
    source, out = tmp_path / "nl.parquet", tmp_path / "out"
    rows = dutch_source(sample, source)
    calls_per_row = 3  # two answers and one judgement
    with OpenAIServer(latency=lambda: 0.02, answers_by_model=ANSWERS) as server:
        two = edit_config(
            tmp_path / "two", generation={"models": ["gen-a", "gen-b"]}, judge={"model": "judge-1"}
        )
        args = run_args(source, out, server, two)
        process = subprocess.Popen(
            [shutil.which("dpo-factory"), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=os.environ.copy(),
        )  # fmt: skip
        deadline = time.monotonic() + 180
        while server.log.calls() < rows and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.01)
        assert sigkill_cli(process) == []
        first = server.log.calls()
        assert 0 < first < calls_per_row * rows, "the kill must land inside the LLM stage"
        code, output = invoke(args)
        assert code == 0, output
        repeated = server.log.calls() - calls_per_row * rows
    assert 0 <= repeated <= CONCURRENCY  # only the calls in flight at the kill are made again
    raw = read(out, RAW, "data")
    assert raw.height == rows and (raw["status"] == "judged").all()
    assert raw["generation_models"].to_list() == [["human", "gen-a", "gen-b"]] * rows
