"""The LLM stage over real HTTP against the local OpenAI-compatible test server."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any

import polars as pl
import pytest

import tasks.llm.stage
from languages.langid import Prediction
from languages.schema import LanguageConfig, load_language
from tasks.filter.rules import filter_rows
from tasks.llm.client import PLACEHOLDER_NOTE, build_llm, resolve_endpoint
from tasks.llm.generate import Generator
from tasks.llm.judge import Judge
from tasks.llm.stage import EndpointError, respond_and_judge
from tasks.state.journal import Journal
from tests.openai_server import ENGLISH_ANSWER, OpenAIServer, Reply

SECRET = "sk-proj-leaked-0123456789abcdef"  # what a server's error body might echo back


def _clients(
    config: LanguageConfig,
    base_url: str | None,
    offline: bool = False,
    generator_class: type[Generator] = Generator,
    judge_model: str = "test-judge",
) -> tuple[Generator, Judge]:
    # No client retries here: these tests count exactly the requests the stage makes.
    gen_settings = config.generation.model_copy(update={"max_retries": 0})
    judge_settings = config.judge.model_copy(update={"max_retries": 0})
    gen_choice = resolve_endpoint(gen_settings, base_url, "test-generator", offline)
    judge_choice = resolve_endpoint(judge_settings, base_url, judge_model, offline)
    return (
        generator_class(build_llm(gen_settings, gen_choice, "generator"), gen_settings),
        Judge(build_llm(judge_settings, judge_choice, "judge"), judge_settings),
    )


def _many_rows(sample: pl.DataFrame, count: int) -> list[dict[str, Any]]:
    """`count` distinct Dutch rows made from the sample's, as the filter stage would emit them."""
    base = _rows(sample, "nld")
    return [
        {
            **base[i % len(base)],
            "id": f"many-{i:04d}",
            "inputs": f"Vraag {i}: {base[i % len(base)]['inputs']}",
        }
        for i in range(count)
    ]


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
    assert stats.probe_calls == 0  # the placeholder needs no probe


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
    assert server.log.calls() == server.log.calls("probe") == 0  # nothing to buy, nothing to probe
    assert stats.resumed_rows == len(rows)
    assert again == first


def test_journaled_answers_are_not_generated_again(sample: pl.DataFrame, tmp_path) -> None:
    config = load_language("nld")
    rows = _rows(sample, "nld")
    journal = Journal(tmp_path / "journal.jsonl", "r")
    for row in rows[:4]:
        journal.record_generation(row["id"], "r", "Een eerder gegeven antwoord in het Nederlands.")
    journal.close()
    with OpenAIServer() as server:
        results, stats = respond_and_judge(
            rows, config, *_clients(config, server.base_url), 4, Journal(tmp_path / "journal.jsonl", "r")
        )
    assert stats.resumed_generations == 4
    assert server.log.calls("generate") == len(rows) - 4
    assert server.log.calls("judge") == len(rows)
    assert results[0]["generation"] == "Een eerder gegeven antwoord in het Nederlands."


def test_rows_are_judged_while_answers_still_arrive(sample: pl.DataFrame, tmp_path) -> None:
    """Judge calls go ahead of new generations: with half the answers back, at least half the rows
    minus 3 x C are finished, and never more than C rows are in flight. Counted, not timed."""
    config = load_language("nld")
    rows, concurrency = _many_rows(sample, 120), 8
    events: list[str] = []
    journal = Journal(tmp_path / "journal.jsonl", "r")

    class CountingGenerator(Generator):
        async def generate(self, instruction: str) -> tuple[str | None, dict]:
            events.append("asked")
            answer = await super().generate(instruction)
            events.append("answer")
            return answer

    def on_row(result: dict[str, Any]) -> None:
        assert result["id"] in journal.rows  # the hook sees only rows already journaled
        events.append("row")

    jitter = random.Random(3)
    with OpenAIServer(latency=lambda: jitter.uniform(0.0, 0.004)) as server:
        clients = _clients(config, server.base_url, generator_class=CountingGenerator)
        results, _ = respond_and_judge(rows, config, *clients, concurrency, journal, on_row=on_row)
    assert [r["id"] for r in results] == [r["id"] for r in rows]
    assert all(r["status"] == "judged" for r in results)
    assert events.count("row") == len(rows)  # one on_row call per row
    assert server.log.max_in_flight <= concurrency

    answers = finished = in_flight = most_in_flight = 0
    finished_at_half = None
    for event in events:
        answers += event == "answer"
        finished += event == "row"
        in_flight += (event == "asked") - (event == "row")
        most_in_flight = max(most_in_flight, in_flight)
        if answers == len(rows) // 2 and finished_at_half is None:
            finished_at_half = finished
    assert finished_at_half >= len(rows) // 2 - 3 * concurrency
    assert most_in_flight <= concurrency


def test_on_row_sees_resumed_rows_too(sample: pl.DataFrame, tmp_path) -> None:
    config = load_language("nld")
    rows = _rows(sample, "nld")
    path = tmp_path / "journal.jsonl"
    with OpenAIServer() as server:
        respond_and_judge(rows[:4], config, *_clients(config, server.base_url), 2, Journal(path, "r"))
    seen: list[str] = []
    with OpenAIServer() as server:
        results, stats = respond_and_judge(
            rows,
            config,
            *_clients(config, server.base_url),
            2,
            Journal(path, "r"),
            on_row=lambda r: seen.append(r["id"]),
        )
    assert sorted(seen) == sorted(r["id"] for r in rows)
    assert seen[:4] == [r["id"] for r in rows[:4]]  # resumed rows first
    assert stats.resumed_rows == 4 and server.log.calls("generate") == len(rows) - 4


def test_one_probe_per_distinct_endpoint_before_any_answer(sample: pl.DataFrame) -> None:
    config = load_language("spa")
    rows = _rows(sample, "spa")
    with OpenAIServer() as server:
        _, stats = respond_and_judge(rows, config, *_clients(config, server.base_url), concurrency=2)
        probes_done = [p["time"] for p in server.log.probes]
        assert sorted(p["model"] for p in server.log.probes) == ["test-generator", "test-judge"]
        assert max(probes_done) <= min(r["time"] for r in server.log.requests)
    assert stats.probe_calls == 2
    with OpenAIServer() as server:  # generator and judge on the same model and endpoint: one probe
        _, stats = respond_and_judge(
            rows, config, *_clients(config, server.base_url, judge_model="test-generator"), concurrency=2
        )
    assert stats.probe_calls == server.log.calls("probe") == 1
    assert stats.as_dict()["probe_calls"] == 1


@pytest.mark.parametrize(
    ("model", "status", "error", "role"),
    [
        ("test-judge", 404, "NotFoundError", "judge"),
        ("test-generator", 401, "AuthenticationError", "generator"),
        ("test-judge", 403, "PermissionDeniedError", "judge"),
    ],
)
def test_probe_finds_a_refused_model_before_any_answer_is_bought(
    sample: pl.DataFrame, model: str, status: int, error: str, role: str
) -> None:
    config = load_language("nld")
    with OpenAIServer(model_status={model: status}) as server:
        with pytest.raises(EndpointError) as caught:
            respond_and_judge(_rows(sample, "nld"), config, *_clients(config, server.base_url), concurrency=4)
        assert server.log.calls() == 0  # not one answer bought: only the two probes
        assert server.log.calls("probe") == 2
    message = str(caught.value)
    assert "\n" not in message
    assert f"the {role} endpoint refused" in message and f"'{model}'" in message
    assert f"HTTP {status} {error}" in message


def test_probe_of_an_unreachable_endpoint_stops_with_one_line(sample: pl.DataFrame) -> None:
    config = load_language("nld")
    with OpenAIServer(model_status={"test-judge": 503}) as server:
        with pytest.raises(EndpointError, match=r"judge endpoint did not answer .* 'test-judge' \(HTTP 503"):
            respond_and_judge(_rows(sample, "nld"), config, *_clients(config, server.base_url), concurrency=4)
        assert server.log.calls() == 0


def test_a_probe_rejected_for_another_reason_lets_the_rows_speak(sample: pl.DataFrame) -> None:
    config = load_language("nld")
    rows = _rows(sample, "nld")
    with OpenAIServer(model_status={"test-generator": 400}) as server:
        results, stats = respond_and_judge(rows, config, *_clients(config, server.base_url), concurrency=4)
    assert {r["failure_detail"] for r in results} == {"HTTP 400 BadRequestError"}
    assert stats.failures == {"generation_error": len(rows)}


def test_refused_judge_mid_stage_stops_buying_at_once(sample: pl.DataFrame) -> None:
    """The probe passes, then the judge refuses: no worker starts a request after the first refusal,
    so at most C answers were bought (the old stage bought every row's answer first)."""
    config = load_language("nld")
    rows, concurrency = _many_rows(sample, 40), 4

    def script(kind: str, user: str, messages: list) -> Reply | None:
        return Reply(status=404, error_message=SECRET) if kind == "judge" else None

    jitter = random.Random(5)
    with OpenAIServer(script, latency=lambda: jitter.uniform(0.0, 0.004)) as server:
        with pytest.raises(EndpointError, match="the judge endpoint refused .*'test-judge'") as caught:
            respond_and_judge(rows, config, *_clients(config, server.base_url), concurrency)
        assert server.log.calls("generate") <= concurrency
        assert server.log.calls("judge") <= concurrency
    assert SECRET not in str(caught.value)


def test_failure_detail_never_holds_the_error_body(sample: pl.DataFrame) -> None:
    config = load_language("nld")
    rows = _rows(sample, "nld")

    def script(kind: str, user: str, messages: list) -> Reply | None:
        if kind == "generate" and user == rows[0]["inputs"]:
            return Reply(status=500, error_message=f"upstream said: Authorization: Bearer {SECRET}")
        if kind == "judge" and rows[1]["inputs"] in user:
            return Reply(status=400, error_message=f"context too long: {SECRET}")
        return None

    with OpenAIServer(script) as server:
        results, stats = respond_and_judge(rows, config, *_clients(config, server.base_url), concurrency=2)
    assert results[0]["failure_reason"] == "generation_error"
    assert results[0]["failure_detail"] == "HTTP 500 InternalServerError"
    assert results[1]["failure_reason"] == "judge_error"
    assert results[1]["failure_detail"] == "HTTP 400 BadRequestError"
    assert SECRET not in json.dumps(results, default=str) + json.dumps(stats.as_dict())


def test_language_without_a_checking_model_is_not_checked(sample: pl.DataFrame, monkeypatch) -> None:
    """For `lid.model: none`, identify returns predictions with every field None (the contract):
    the answer's language is then "not checked", never wrong, and no wrong-language count grows."""

    def unchecked(texts: Sequence[str | None], accepted: Sequence[str], model: str = "none") -> list:
        return [Prediction(None, None, None) for _ in texts]  # type: ignore[arg-type]

    monkeypatch.setattr(tasks.llm.stage, "identify", unchecked)
    config = load_language("nld")
    rows = _rows(sample, "nld")
    with OpenAIServer(lambda kind, *_: Reply(ENGLISH_ANSWER) if kind == "generate" else None) as server:
        results, stats = respond_and_judge(rows, config, *_clients(config, server.base_url), concurrency=2)
    assert all(r["status"] == "judged" for r in results)
    assert all(r["generation_language_ok"] is None for r in results)
    assert stats.wrong_language_generations == 0
