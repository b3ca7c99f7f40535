"""Stages 4-6 streamed per row: generate, check the answer's language, judge.

C workers (`--concurrency`) each take the next row, generate its answer, check its language and judge
it (twice with `judge.swap`) before taking another row. So a row's judge call always goes ahead of
generations not yet started, at most C rows are in flight, and each worker keeps one request open at
a time: the server never sees more than C, and the stage runs at C / (calls per row x latency).
Before any answer is bought, a 1-token probe per distinct endpoint and model finds a refused model.
A call that still fails after the client's retries ends only its row: status `failed` with a named
reason, retried by the next run; a refused model (401, 403, 404) stops the stage at once. Results are
checkpointed in a journal as they arrive, so a killed run resumes where it was.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import openai
from distilabel.models.llms import AsyncLLM

from languages.langid import identify
from languages.schema import LanguageConfig
from tasks.llm.client import close_llm, probe_key, retries_of
from tasks.llm.generate import Generator
from tasks.llm.judge import Judge
from tasks.state.journal import Journal
from tasks.state.status import STATUS_FAILED, STATUS_GAVE_UP, STATUS_JUDGED  # noqa: F401 - re-exported

# Errors no retry can fix: every further call would fail the same way, so the stage stops.
FATAL_ERRORS = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)
# A probe that still fails this way after the client's retries: the endpoint is down or overloaded,
# so every row would fail too. Stopping costs nothing and the next run tries again.
UNREACHABLE_ERRORS = (openai.APIConnectionError, openai.InternalServerError, openai.RateLimitError)

logger = logging.getLogger(__name__)
T = TypeVar("T")


class EndpointError(RuntimeError):
    """The LLM endpoint refuses every request (bad token, no access, unknown model) or cannot be reached."""


@dataclass
class LLMStats:
    """What the LLM stage cost: calls, retries, tokens and failures per role, probes, and wall time."""

    calls: Counter = field(default_factory=Counter)
    retries: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    input_tokens: Counter = field(default_factory=Counter)
    output_tokens: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    probe_calls: int = 0
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
            "probe_calls": self.probe_calls,
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
    """The HTTP status and the error class, never the message: a server's error body may echo the
    request or a credential, and raw datasets may be public."""
    status = getattr(exc, "status_code", None)
    return f"HTTP {status} {type(exc).__name__}" if status else type(exc).__name__


def _fatal(exc: BaseException, role: str, model: str) -> EndpointError:
    return EndpointError(
        f"the {role} endpoint refused the request for model '{model}' ({_error_detail(exc)}); "
        "check the token, the model name and --llm-base-url"
    )


async def preflight(roles: list[tuple[str, AsyncLLM]], stats: LLMStats) -> None:
    """One 1-token request per distinct (base URL, model, key) among `roles`, before any answer is bought.

    A refused model or an endpoint that stays unreachable after the client's retries raises
    EndpointError naming role and model. Other errors (a 400 or 422 on the probe itself) let the
    stage go ahead: they say nothing about the real requests, which fail or stop per row.
    """
    groups: dict[tuple[str, str, str], tuple[list[str], AsyncLLM]] = {}
    for role, llm in roles:
        key = probe_key(llm)
        if key is not None:
            groups.setdefault(key, ([], llm))[0].append(role)
    if not groups:
        return
    stats.probe_calls += len(groups)
    outcomes = await asyncio.gather(*(llm.probe() for _, llm in groups.values()), return_exceptions=True)
    for (names, llm), outcome in zip(groups.values(), outcomes, strict=True):
        role = " and ".join(names)
        if isinstance(outcome, FATAL_ERRORS):
            raise _fatal(outcome, role, llm.model_name) from outcome
        if isinstance(outcome, UNREACHABLE_ERRORS):
            raise EndpointError(
                f"the {role} endpoint did not answer a 1-token probe for model '{llm.model_name}' "
                f"({_error_detail(outcome)}, after {llm.max_retries} retries); no answer was bought"
            ) from outcome
        if isinstance(outcome, openai.APIStatusError):
            logger.warning(
                "the %s probe for model '%s' got %s; going ahead",
                role,
                llm.model_name,
                _error_detail(outcome),
            )
        elif isinstance(outcome, BaseException):
            raise outcome


class _Stage:
    """One row's pipeline, with the statistics and journal the workers share."""

    def __init__(
        self,
        config: LanguageConfig,
        generator: Generator,
        judge: Judge,
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
        # Set by the first refused request: from then on no worker starts another one.
        self.fatal: EndpointError | None = None

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

    async def _call(
        self, role: str, model: str, request: Callable[[], Awaitable[tuple[T, dict]]]
    ) -> tuple[T | None, str | None]:
        """One counted request: (result, None), or (None, error detail) when it failed after retries."""
        if self.fatal is not None:
            raise self.fatal
        self.stats.calls[role] += 1
        try:
            result, statistics = await request()
        except FATAL_ERRORS as exc:
            name = "generator" if role == "generate" else "judge"
            self.fatal = self.fatal or _fatal(exc, name, model)
            raise self.fatal from exc
        except Exception as exc:  # every other client error ends this row only
            self.stats.errors[role] += 1
            return None, _error_detail(exc)
        self.stats.count_tokens(role, statistics)
        return result, None

    async def _generate(self, row: dict[str, Any]) -> tuple[str | None, str | None]:
        """The answer (journaled, or bought and journaled), or (None, error detail)."""
        saved = self.journal.generations.get(row["id"]) if self.journal else None
        if saved is not None:
            self.stats.resumed_generations += 1
            return saved["generation"], None
        generation, error = await self._call(
            "generate", self.generator.model_name, lambda: self.generator.generate(row["inputs"])
        )
        if self.journal is not None and generation is not None:
            self.journal.record_generation(row["id"], {"generation": generation})
        return generation, error

    async def process(self, row: dict[str, Any]) -> dict[str, Any]:
        """Generate, check and judge one row, and journal the finished result."""
        finished = await self._process(row, self._base(row))
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
        # No accepted score means the language has no checking model: "not checked", never a failure.
        language_ok = (
            None if prediction.accepted_score is None else prediction.accepted_score >= lid.threshold
        )
        self.stats.wrong_language_generations += language_ok is False
        result.update(
            generation=generation,
            predicted_generation_language=prediction.label,
            predicted_generation_language_score=prediction.score,
            generation_language_ok=language_ok,
            generations=[row["targets"], generation],
            generation_models=["human", self.generator.model_name],
        )

        judgement, error = await self._call(
            "judge", self.judge.model_name, lambda: self.judge.judge(row["inputs"], result["generations"])
        )
        if error is not None:
            return fail("judge_error", error)
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
        swapped, error = await self._call(
            "judge",
            self.judge.model_name,
            lambda: self.judge.judge(row["inputs"], result["generations"][::-1]),
        )
        if error is not None:
            return "judge_error", error
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
def _progress(total: int, enabled: bool) -> Iterator[Callable[[], None]]:
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


async def _run_workers(
    stage: _Stage,
    rows: list[dict[str, Any]],
    todo: list[int],
    workers: int,
    results: list[Any],
    finish: Callable[[dict[str, Any]], None],
) -> None:
    """`workers` coroutines pull row indices from one shared iterator; the first error cancels the rest."""
    pending = iter(todo)

    async def work() -> None:
        for index in pending:  # shared: each row goes to exactly one worker
            results[index] = await stage.process(rows[index])
            finish(results[index])

    tasks = [asyncio.create_task(work()) for _ in range(min(workers, len(todo)))]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()  # requests in flight are dropped: no new answer is bought after an error
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


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
    """Stream every row through generate, language check and judge; results keep the input order.

    `on_row(result)` is called once per row in the event loop thread, right after the row is
    finished and journaled (rows resumed from the journal first); it must return quickly.
    """
    stats = LLMStats()
    stage = _Stage(config, generator, judge, journal, stats)
    started = time.perf_counter()
    results: list[Any] = [None] * len(rows)
    with _progress(len(rows), progress) as advance:

        def finish(result: dict[str, Any]) -> None:
            advance()
            if on_row is not None:
                on_row(result)

        try:
            todo = []
            for index, row in enumerate(rows):
                if journal is not None and row["id"] in journal.rows:
                    stats.resumed_rows += 1
                    results[index] = {**row, **journal.rows[row["id"]]}
                    finish(results[index])
                else:
                    todo.append(index)
            if todo:
                generations = journal.generations if journal is not None else {}
                buys_answers = any(rows[index]["id"] not in generations for index in todo)
                roles = [("generator", generator.llm)] if buys_answers else []
                await preflight([*roles, ("judge", judge.llm)], stats)
                await _run_workers(stage, rows, todo, concurrency, results, finish)
        finally:
            stats.retries.update({"generate": retries_of(generator.llm), "judge": retries_of(judge.llm)})
            stats.retries = +stats.retries  # drop zero counts
            stats.seconds = time.perf_counter() - started
            if journal is not None:
                journal.close()
            await close_llm(generator.llm)
            await close_llm(judge.llm)
    return results, stats


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
