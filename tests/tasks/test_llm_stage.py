"""The LLM stage over real HTTP against the local OpenAI-compatible test server."""

from __future__ import annotations

import random
from typing import Any

import polars as pl
import pytest

from languages.schema import LanguageConfig, load_language
from tasks.filter import filter_rows
from tasks.generate import Generator
from tasks.journal import Journal
from tasks.judge import Judge
from tasks.llm import PLACEHOLDER_NOTE, build_llm, resolve_endpoint
from tasks.llm_stage import EndpointError, respond_and_judge
from tests.openai_server import ENGLISH_ANSWER, OpenAIServer, Reply


def _clients(config: LanguageConfig, base_url: str | None, offline: bool = False) -> tuple[Generator, Judge]:
    # No client retries here: these tests count exactly the requests the stage makes.
    gen_settings = config.generation.model_copy(update={"max_retries": 0})
    judge_settings = config.judge.model_copy(update={"max_retries": 0})
    gen_choice = resolve_endpoint(gen_settings, base_url, "test-generator", offline)
    judge_choice = resolve_endpoint(judge_settings, base_url, "test-judge", offline)
    return (
        Generator(build_llm(gen_settings, gen_choice, "generator"), gen_settings),
        Judge(build_llm(judge_settings, judge_choice, "judge"), judge_settings),
    )


def _rows(sample: pl.DataFrame, code: str) -> list[dict[str, Any]]:
    return filter_rows(sample, load_language(code)).kept.to_dicts()


def test_every_row_is_generated_and_judged(sample: pl.DataFrame, llm_server: OpenAIServer) -> None:
    config = load_language("spa")
    rows = _rows(sample, "spa")
    results, stats = respond_and_judge(rows, config, *_clients(config, llm_server.base_url), concurrency=4)
    assert [r["id"] for r in results] == [r["id"] for r in rows]
    assert all(r["status"] == "judged" for r in results)
    assert llm_server.log.calls("generate") == llm_server.log.calls("judge") == len(rows)
    first = results[0]
    assert first["generations"] == [rows[0]["targets"], first["generation"]]
    assert first["generation_models"] == ["human", "test-generator"]
    assert first["model_name"] == "test-judge"
    assert first["predicted_generation_language"] == "es" and first["generation_language_ok"]
    assert all(len(r["ratings"]) == 2 and all(1 <= x <= 5 for x in r["ratings"]) for r in results)
    assert stats.calls == {"generate": len(rows), "judge": len(rows)}
    assert stats.input_tokens["judge"] == 50 * len(rows)
    # The system prompt in Spanish went with every generation request.
    generation_requests = [r for r in llm_server.log.requests if r["kind"] == "generate"]
    assert {r["user"] for r in generation_requests} == {row["inputs"] for row in rows}


def test_concurrency_bound_holds_with_slow_requests(sample: pl.DataFrame) -> None:
    config = load_language("nld")
    rows = _rows(sample, "nld")
    jitter = random.Random(7)
    with OpenAIServer(latency=lambda: jitter.uniform(0.01, 0.05)) as server:
        results, _ = respond_and_judge(rows, config, *_clients(config, server.base_url), concurrency=3)
    assert server.log.max_in_flight <= 3
    assert server.log.max_in_flight >= 2  # rows really overlap
    assert len(results) == len(rows)


def test_failures_are_rows_with_reasons_not_a_stopped_run(sample: pl.DataFrame) -> None:
    config = load_language("nld")
    rows = _rows(sample, "nld")
    broken_generation, empty_generation, english, bad_judge = (rows[i]["inputs"] for i in range(4))

    def script(kind: str, user: str, messages: list) -> Reply | None:
        if kind == "generate" and user == broken_generation:
            return Reply(status=500)
        if kind == "generate" and user == empty_generation:
            return Reply("   ")
        if kind == "generate" and user == english:
            return Reply(ENGLISH_ANSWER)
        if kind == "judge" and bad_judge in user:
            return Reply("Here is my verdict.\n\n#### Output for Text 1\nRating: 5\nRationale: A.")
        return None

    with OpenAIServer(script) as server:
        results, stats = respond_and_judge(rows, config, *_clients(config, server.base_url), concurrency=4)
    by_prompt = {r["inputs"]: r for r in results}
    assert by_prompt[broken_generation]["status"] == "failed"
    assert by_prompt[broken_generation]["failure_reason"] == "generation_error"
    assert "InternalServerError" in by_prompt[broken_generation]["failure_detail"]
    assert by_prompt[empty_generation]["failure_reason"] == "generation_empty"
    assert by_prompt[english]["status"] == "judged"
    assert by_prompt[english]["generation_language_ok"] is False
    assert by_prompt[english]["predicted_generation_language"] == "en"
    # distilabel reads this as [None, 5]: Text 1's rating shifted onto the LLM answer. Never curated.
    assert by_prompt[bad_judge]["failure_reason"] == "judge_rating_invalid"
    assert by_prompt[bad_judge]["status"] == "failed"
    assert stats.failures == {"generation_error": 1, "generation_empty": 1, "judge_rating_invalid": 1}
    assert sum(r["status"] == "judged" for r in results) == len(rows) - 3
    assert stats.wrong_language_generations == 1


def test_judge_http_error_fails_the_row(sample: pl.DataFrame) -> None:
    config = load_language("jpn")
    rows = _rows(sample, "jpn")

    def script(kind: str, user: str, messages: list) -> Reply | None:
        return Reply(status=503) if kind == "judge" else None

    with OpenAIServer(script) as server:
        results, stats = respond_and_judge(rows, config, *_clients(config, server.base_url), concurrency=2)
    assert {r["failure_reason"] for r in results} == {"judge_error"}
    assert all(r["generation"] for r in results)  # the paid-for generation is kept in raw
    assert stats.errors["judge"] == len(rows)


@pytest.mark.parametrize("code", ["nld", "arb"])
def test_offline_placeholder_says_so(sample: pl.DataFrame, code: str) -> None:
    config = load_language(code)
    results, stats = respond_and_judge(_rows(sample, code), config, *_clients(config, None, offline=True), 2)
    assert all(r["generation"].startswith(PLACEHOLDER_NOTE) for r in results)
    assert all(PLACEHOLDER_NOTE in r["rationales"][0] for r in results)
    assert {r["generation_model"] for r in results} == {"offline-placeholder"}
    assert all(r["status"] == "judged" for r in results)
    assert stats.calls["judge"] == len(results)


def _one_failure_per_call(status: int, headers: dict[str, str] | None = None):
    """A script that fails the first attempt of every call, then answers normally."""
    seen: set[tuple[str, str]] = set()

    def script(kind: str, user: str, messages: list) -> Reply | None:
        if (kind, user) in seen:
            return None
        seen.add((kind, user))
        return Reply(status=status, headers=headers or {})

    return script


@pytest.mark.parametrize(("status", "headers"), [(429, {"Retry-After": "0.3"}), (500, {}), (503, {})])
def test_retries_recover_every_row(sample: pl.DataFrame, status: int, headers: dict) -> None:
    config = load_language("jpn")
    rows = _rows(sample, "jpn")
    settings = {"max_retries": 3}
    gen = config.generation.model_copy(update=settings)
    jud = config.judge.model_copy(update=settings)
    with OpenAIServer(_one_failure_per_call(status, headers)) as server:
        generator = Generator(build_llm(gen, resolve_endpoint(gen, server.base_url, "g"), "generator"), gen)
        judge = Judge(build_llm(jud, resolve_endpoint(jud, server.base_url, "j"), "judge"), jud)
        results, stats = respond_and_judge(rows, config, generator, judge, concurrency=3)
    assert all(r["status"] == "judged" for r in results)
    assert stats.retries == {"generate": len(rows), "judge": len(rows)}
    assert stats.calls == {"generate": len(rows), "judge": len(rows)}
    assert server.log.calls() == 4 * len(rows)
    if "Retry-After" in headers:
        # Every retry waited at least as long as the server asked.
        first: dict[tuple[str, str], float] = {}
        for request in server.log.requests:
            key = (request["kind"], request["user"])
            if request["retry"] == 0:
                first[key] = request["time"]
            else:
                assert request["time"] - first[key] >= 0.3


def test_rows_that_keep_failing_are_failed_not_fatal(sample: pl.DataFrame) -> None:
    config = load_language("jpn")
    rows = _rows(sample, "jpn")

    def script(kind: str, user: str, messages: list) -> Reply | None:
        return Reply(status=500) if user == rows[0]["inputs"] else None

    with OpenAIServer(script) as server:
        results, stats = respond_and_judge(rows, config, *_clients(config, server.base_url), concurrency=2)
    assert [r["status"] for r in results].count("failed") == 1
    assert results[0]["failure_reason"] == "generation_error"
    assert stats.errors == {"generate": 1}


@pytest.mark.parametrize("status", [401, 403, 404])
def test_endpoint_that_refuses_everything_stops_the_stage(sample: pl.DataFrame, status: int) -> None:
    config = load_language("jpn")
    with (
        OpenAIServer(lambda *_: Reply(status=status)) as server,
        pytest.raises(EndpointError, match="refused"),
    ):
        respond_and_judge(_rows(sample, "jpn"), config, *_clients(config, server.base_url), concurrency=2)


def test_journal_makes_a_rerun_free(sample: pl.DataFrame, tmp_path) -> None:
    config = load_language("nld")
    rows = _rows(sample, "nld")
    path = tmp_path / "journal.jsonl"
    with OpenAIServer() as server:
        first, _ = respond_and_judge(rows, config, *_clients(config, server.base_url), 4, Journal(path, "r"))
    with OpenAIServer() as server:
        again, stats = respond_and_judge(
            rows, config, *_clients(config, server.base_url), 4, Journal(path, "r")
        )
    assert server.log.calls() == 0
    assert stats.resumed_rows == len(rows)
    assert again == first


def test_journaled_answers_are_not_generated_again(sample: pl.DataFrame, tmp_path) -> None:
    config = load_language("nld")
    rows = _rows(sample, "nld")
    journal = Journal(tmp_path / "journal.jsonl", "r")
    for row in rows[:4]:
        journal.record_generation(row["id"], {"generation": "Een eerder gegeven antwoord in het Nederlands."})
    journal.close()
    with OpenAIServer() as server:
        results, stats = respond_and_judge(
            rows, config, *_clients(config, server.base_url), 4, Journal(tmp_path / "journal.jsonl", "r")
        )
    assert stats.resumed_generations == 4
    assert server.log.calls("generate") == len(rows) - 4
    assert server.log.calls("judge") == len(rows)
    assert results[0]["generation"] == "Een eerder gegeven antwoord in het Nederlands."
