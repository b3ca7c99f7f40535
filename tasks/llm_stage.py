"""Stages 4-6 streamed per row: generate, check the answer's language, judge.

Each row goes through its own coroutine, so a slow request holds up only its own row; one semaphore
bounds the requests in flight for generator and judge together (`--concurrency`). A failing call
never stops the run: the row gets status `failed` and a named reason, and the next run retries it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from languages.schema import LanguageConfig
from tasks.generate import Generator
from tasks.judge import Judge
from tasks.langid import identify

STATUS_JUDGED = "judged"
STATUS_FAILED = "failed"


@dataclass
class LLMStats:
    """What the LLM stage cost: calls, tokens and failures per role, and wall time."""

    calls: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    input_tokens: Counter = field(default_factory=Counter)
    output_tokens: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    wrong_language_generations: int = 0
    seconds: float = 0.0

    def count_tokens(self, role: str, statistics: dict) -> None:
        self.input_tokens[role] += sum(t or 0 for t in statistics.get("input_tokens", []) or [])
        self.output_tokens[role] += sum(t or 0 for t in statistics.get("output_tokens", []) or [])

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "call_errors": dict(self.errors),
            "input_tokens": dict(self.input_tokens),
            "output_tokens": dict(self.output_tokens),
            "failures": dict(sorted(self.failures.items())),
            "wrong_language_generations": self.wrong_language_generations,
            "seconds": round(self.seconds, 3),
        }


def _error_detail(exc: BaseException) -> str:
    message = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


async def _process_row(
    row: dict[str, Any],
    config: LanguageConfig,
    generator: Generator,
    judge: Judge,
    slots: asyncio.Semaphore,
    stats: LLMStats,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        **row,
        "generation_model": generator.model_name,
        "generation": None,
        "predicted_generation_language": None,
        "predicted_generation_language_score": None,
        "generation_language_ok": None,
        "generations": [row["targets"]],
        "generation_models": ["human"],
        "model_name": judge.model_name,
        "ratings": None,
        "rationales": None,
        "status": STATUS_FAILED,
        "failure_reason": None,
        "failure_detail": None,
    }

    def fail(reason: str, detail: str | None = None) -> dict[str, Any]:
        stats.failures[reason] += 1
        result.update(failure_reason=reason, failure_detail=detail)
        return result

    try:
        async with slots:
            stats.calls["generate"] += 1
            generation, statistics = await generator.generate(row["inputs"])
        stats.count_tokens("generate", statistics)
    except Exception as exc:  # every client error ends this row only
        stats.errors["generate"] += 1
        return fail("generation_error", _error_detail(exc))
    if generation is None:
        return fail("generation_empty")

    (prediction,) = identify([generation], config.lid.labels, config.lid.model)
    language_ok = prediction.accepted_score >= config.lid.threshold
    stats.wrong_language_generations += not language_ok
    result.update(
        generation=generation,
        predicted_generation_language=prediction.label,
        predicted_generation_language_score=prediction.score,
        generation_language_ok=language_ok,
        generations=[row["targets"], generation],
        generation_models=["human", generator.model_name],
    )

    try:
        async with slots:
            stats.calls["judge"] += 1
            judgement, statistics = await judge.judge(row["inputs"], result["generations"])
        stats.count_tokens("judge", statistics)
    except Exception as exc:
        stats.errors["judge"] += 1
        return fail("judge_error", _error_detail(exc))
    result.update(ratings=judgement.ratings, rationales=judgement.rationales)
    if judgement.failure:
        return fail(judgement.failure)
    result["status"] = STATUS_JUDGED
    return result


async def respond_and_judge_async(
    rows: list[dict[str, Any]],
    config: LanguageConfig,
    generator: Generator,
    judge: Judge,
    concurrency: int,
    on_row_done: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[list[dict[str, Any]], LLMStats]:
    """Stream every row through generate, language check and judge; results keep the input order."""
    stats = LLMStats()
    slots = asyncio.Semaphore(concurrency)
    started = time.perf_counter()

    async def one(row: dict[str, Any]) -> dict[str, Any]:
        result = await _process_row(row, config, generator, judge, slots, stats)
        if on_row_done is not None:
            on_row_done(result)
        return result

    results = await asyncio.gather(*(one(row) for row in rows))
    stats.seconds = time.perf_counter() - started
    return list(results), stats


def respond_and_judge(
    rows: list[dict[str, Any]],
    config: LanguageConfig,
    generator: Generator,
    judge: Judge,
    concurrency: int,
    on_row_done: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[list[dict[str, Any]], LLMStats]:
    """Synchronous entry point for flows and tests."""
    return asyncio.run(respond_and_judge_async(rows, config, generator, judge, concurrency, on_row_done))
