"""Stages 4-6 streamed per row: generate, check the answer's language, judge.

Each row goes through its own coroutine, so a slow request holds up only its own row; one semaphore
bounds the requests in flight for generator and judge together (`--concurrency`). A call that still
fails after the client's retries ends only its row: status `failed` with a named reason, retried by
the next run. Results are checkpointed in a journal as they arrive, so a killed run resumes where it was.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import openai

from languages.schema import LanguageConfig
from tasks.generate import Generator
from tasks.journal import Journal
from tasks.judge import Judge
from tasks.langid import identify
from tasks.llm import close_llm, retries_of
from tasks.status import STATUS_FAILED, STATUS_GAVE_UP, STATUS_JUDGED  # noqa: F401 - re-exported

# Errors no retry can fix: every further call would fail the same way, so the stage stops.
FATAL_ERRORS = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)


class EndpointError(RuntimeError):
    """The LLM endpoint refuses every request (bad token, no access, unknown model)."""


@dataclass
class LLMStats:
    """What the LLM stage cost: calls, retries, tokens and failures per role, and wall time."""

    calls: Counter = field(default_factory=Counter)
    retries: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    input_tokens: Counter = field(default_factory=Counter)
    output_tokens: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    resumed_rows: int = 0
    resumed_generations: int = 0
    wrong_language_generations: int = 0
    seconds: float = 0.0

    def count_tokens(self, role: str, statistics: dict) -> None:
        self.input_tokens[role] += sum(t or 0 for t in statistics.get("input_tokens", []) or [])
        self.output_tokens[role] += sum(t or 0 for t in statistics.get("output_tokens", []) or [])

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "retries": dict(self.retries),
            "call_errors": dict(self.errors),
            "input_tokens": dict(self.input_tokens),
            "output_tokens": dict(self.output_tokens),
            "failures": dict(sorted(self.failures.items())),
            "resumed_rows": self.resumed_rows,
            "resumed_generations": self.resumed_generations,
            "wrong_language_generations": self.wrong_language_generations,
            "seconds": round(self.seconds, 3),
        }


def _error_detail(exc: BaseException) -> str:
    message = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _fatal(exc: BaseException, role: str, model: str) -> EndpointError:
    status = getattr(exc, "status_code", "")
    return EndpointError(
        f"the {role} endpoint refused the request for model '{model}' ({status} {type(exc).__name__}); "
        "check the token, the model name and --llm-base-url"
    )


class _Stage:
    """The per-row pipeline with its shared semaphore, statistics and journal."""

    def __init__(
        self,
        config: LanguageConfig,
        generator: Generator,
        judge: Judge,
        concurrency: int,
        journal: Journal | None,
        stats: LLMStats,
    ) -> None:
        self.config, self.generator, self.judge, self.journal, self.stats = (
            config,
            generator,
            judge,
            journal,
            stats,
        )
        self.slots = asyncio.Semaphore(concurrency)

    def _base(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            **row,
            "generation_model": self.generator.model_name,
            "generation": None,
            "predicted_generation_language": None,
            "predicted_generation_language_score": None,
            "generation_language_ok": None,
            "generations": [row["targets"]],
            "generation_models": ["human"],
            "model_name": self.judge.model_name,
            "ratings": None,
            "rationales": None,
            "ratings_swapped": None,
            "position_consistent": None,
            "status": STATUS_FAILED,
            "failure_reason": None,
            "failure_detail": None,
        }

    async def _generate(self, row: dict[str, Any]) -> tuple[str | None, str | None]:
        """The answer, or (None, error detail) when the call failed after retries."""
        saved = self.journal.generations.get(row["id"]) if self.journal else None
        if saved is not None:
            self.stats.resumed_generations += 1
            return saved["generation"], None
        try:
            async with self.slots:
                self.stats.calls["generate"] += 1
                generation, statistics = await self.generator.generate(row["inputs"])
        except FATAL_ERRORS as exc:
            raise _fatal(exc, "generator", self.generator.model_name) from exc
        except Exception as exc:  # every other client error ends this row only
            self.stats.errors["generate"] += 1
            return None, _error_detail(exc)
        self.stats.count_tokens("generate", statistics)
        if self.journal is not None and generation is not None:
            self.journal.record_generation(row["id"], {"generation": generation})
        return generation, None

    async def process(self, row: dict[str, Any]) -> dict[str, Any]:
        if self.journal is not None and row["id"] in self.journal.rows:
            self.stats.resumed_rows += 1
            return {**row, **self.journal.rows[row["id"]]}
        result = self._base(row)
        finished = await self._process(row, result)
        if self.journal is not None:
            self.journal.record_row(row["id"], {k: v for k, v in finished.items() if k not in row})
        return finished

    async def _process(self, row: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        def fail(reason: str, detail: str | None = None) -> dict[str, Any]:
            self.stats.failures[reason] += 1
            result.update(failure_reason=reason, failure_detail=detail)
            return result

        generation, error = await self._generate(row)
        if error is not None:
            return fail("generation_error", error)
        if generation is None:
            return fail("generation_empty")

        lid = self.config.lid
        (prediction,) = identify([generation], lid.labels, lid.model)
        language_ok = prediction.accepted_score >= lid.threshold
        self.stats.wrong_language_generations += not language_ok
        result.update(
            generation=generation,
            predicted_generation_language=prediction.label,
            predicted_generation_language_score=prediction.score,
            generation_language_ok=language_ok,
            generations=[row["targets"], generation],
            generation_models=["human", self.generator.model_name],
        )

        try:
            async with self.slots:
                self.stats.calls["judge"] += 1
                judgement, statistics = await self.judge.judge(row["inputs"], result["generations"])
        except FATAL_ERRORS as exc:
            raise _fatal(exc, "judge", self.judge.model_name) from exc
        except Exception as exc:
            self.stats.errors["judge"] += 1
            return fail("judge_error", _error_detail(exc))
        self.stats.count_tokens("judge", statistics)
        result.update(ratings=judgement.ratings, rationales=judgement.rationales)
        if judgement.failure:
            return fail(judgement.failure)
        if self.config.judge.swap:
            failure = await self._judge_swapped(row, result)
            if failure:
                return fail(*failure)
        result["status"] = STATUS_JUDGED
        return result

    async def _judge_swapped(
        self, row: dict[str, Any], result: dict[str, Any]
    ) -> tuple[str, str | None] | None:
        """Judge again with the answers in the other order; record whether the preference held."""
        try:
            async with self.slots:
                self.stats.calls["judge"] += 1
                swapped, statistics = await self.judge.judge(row["inputs"], result["generations"][::-1])
        except FATAL_ERRORS as exc:
            raise _fatal(exc, "judge", self.judge.model_name) from exc
        except Exception as exc:
            self.stats.errors["judge"] += 1
            return "judge_error", _error_detail(exc)
        self.stats.count_tokens("judge", statistics)
        if swapped.failure:
            return f"swap_{swapped.failure}", None
        back = swapped.ratings[::-1]  # in the original order: [human, LLM]

        def preference(ratings: list[int]) -> int:
            return (ratings[0] > ratings[1]) - (ratings[0] < ratings[1])

        result.update(
            ratings_swapped=back, position_consistent=preference(back) == preference(result["ratings"])
        )
        return None


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Any]:
    """A progress bar on a terminal; nothing when output goes to a file or a log."""
    if not enabled or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    ) as bar:
        task = bar.add_task("generate and judge", total=total)
        yield lambda: bar.advance(task)


async def respond_and_judge_async(
    rows: list[dict[str, Any]],
    config: LanguageConfig,
    generator: Generator,
    judge: Judge,
    concurrency: int,
    journal: Journal | None = None,
    progress: bool = False,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[list[dict[str, Any]], LLMStats]:
    """Stream every row through generate, language check and judge; results keep the input order."""
    stats = LLMStats()
    stage = _Stage(config, generator, judge, concurrency, journal, stats)
    started = time.perf_counter()
    with _progress(len(rows), progress) as advance:

        async def one(row: dict[str, Any]) -> dict[str, Any]:
            result = await stage.process(row)
            advance()
            if on_row is not None:
                on_row(result)
            return result

        try:
            results = await asyncio.gather(*(one(row) for row in rows))
        finally:
            stats.retries.update({"generate": retries_of(generator.llm), "judge": retries_of(judge.llm)})
            stats.retries = +stats.retries  # drop zero counts
            stats.seconds = time.perf_counter() - started
            if journal is not None:
                journal.close()
            await close_llm(generator.llm)
            await close_llm(judge.llm)
    return list(results), stats


def respond_and_judge(
    rows: list[dict[str, Any]],
    config: LanguageConfig,
    generator: Generator,
    judge: Judge,
    concurrency: int,
    journal: Journal | None = None,
    progress: bool = False,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[list[dict[str, Any]], LLMStats]:
    """Synchronous entry point for flows, tests and benchmarks."""
    coroutine = respond_and_judge_async(
        rows, config, generator, judge, concurrency, journal, progress, on_row
    )
    return asyncio.run(coroutine)
