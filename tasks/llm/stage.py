"""Stages 4-6 streamed per row: generate, check the answers' language, judge.

C workers (`--concurrency`) each take the next row, have every generator model answer it, check each
answer's language and have every judge rate all answers in one request (twice with `judge.swap`)
before taking another row. So a row's judge calls always go ahead of generations not yet started, at
most C rows are in flight, and each worker keeps one request open at a time: the server never sees
more than C, and the stage runs at C / ((generators + judge calls) x latency).
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
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from languages.langid import identify
from languages.schema import LanguageConfig
from tasks.llm.client import close_llm, retries_of
from tasks.llm.generate import Generator
from tasks.llm.judge import Judge, best_and_worst_indices
from tasks.llm.preflight import (  # noqa: F401 - EndpointError and LLMStats are re-exported
    FATAL_ERRORS,
    EndpointError,
    LLMStats,
    error_detail,
    preflight,
    refused,
)
from tasks.state.journal import Journal
from tasks.state.status import STATUS_FAILED, STATUS_GAVE_UP, STATUS_JUDGED  # noqa: F401 - re-exported

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _preference(ratings: list[float], best: int, worst: int) -> int:
    return (ratings[best] > ratings[worst]) - (ratings[best] < ratings[worst])


def _mean(column: list[int]) -> float:
    return round(sum(column) / len(column), 4)


class _Stage:
    """One row's pipeline, with the statistics and journal the workers share."""

    def __init__(
        self,
        config: LanguageConfig,
        generators: list[Generator],
        judges: list[Judge],
        journal: Journal | None,
        stats: LLMStats,
    ) -> None:
        self.config, self.generators, self.judges = config, generators, judges
        self.journal, self.stats = journal, stats
        known = journal.generation_recipes if journal is not None else []
        # Each generator's answers are journaled under its recipe (the flow sets it; a journal with
        # one recipe per generator gives it otherwise).
        self.recipes = [
            g.recipe or (known[i] if len(known) == len(generators) else g.model_name)
            for i, g in enumerate(generators)
        ]
        # Set by the first refused request: from then on no worker starts another one.
        self.fatal: EndpointError | None = None

    def _base(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            **row,
            "generation_model": self.generators[0].model_name,
            "generation": None,
            "predicted_generation_language": None,
            "predicted_generation_language_score": None,
            "generation_language_ok": None,
            "generations": [row["targets"]],
            "generation_models": ["human"],
            "generation_recipes": [None],
            "generation_languages_ok": [None],
            "predicted_generation_languages": [None],
            "model_name": self.judges[0].model_name,
            "judge_models": [j.model_name for j in self.judges],
            "judge_ratings": None,
            "judge_rationales": None,
            "judge_ratings_swapped": None,
            "panel_ratings": None,
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
            self.fatal = self.fatal or refused(exc, name, model)
            raise self.fatal from exc
        except Exception as exc:  # every other client error ends this row only
            self.stats.errors[role] += 1
            return None, error_detail(exc)
        self.stats.count_tokens(role, statistics)
        return result, None

    async def _generate(self, row: dict[str, Any], index: int) -> tuple[str | None, str | None]:
        """Generator `index`'s answer (journaled, or bought and journaled), or (None, error detail)."""
        generator, recipe = self.generators[index], self.recipes[index]
        saved = self.journal.generations.get(row["id"], {}).get(recipe) if self.journal else None
        if saved is not None:
            self.stats.resumed_generations += 1
            return saved, None
        generation, error = await self._call(
            "generate", generator.model_name, lambda: generator.generate(row["inputs"])
        )
        if self.journal is not None and generation is not None:
            self.journal.record_generation(row["id"], recipe, generation)
        return generation, error

    async def process(self, row: dict[str, Any]) -> dict[str, Any]:
        """Generate, check and judge one row, and journal the finished result."""
        finished = await self._process(row, self._base(row))
        if self.journal is not None:
            self.journal.record_row(row["id"], {k: v for k, v in finished.items() if k not in row})
        return finished

    def _check_language(self, generation: str) -> tuple[str, float, bool | None]:
        lid = self.config.lid
        (prediction,) = identify([generation], lid.labels, lid.model)
        # No accepted score means the language has no checking model: "not checked", never a failure.
        ok = None if prediction.accepted_score is None else prediction.accepted_score >= lid.threshold
        self.stats.wrong_language_generations += ok is False
        return prediction.label, prediction.score, ok

    async def _process(self, row: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        def fail(reason: str, detail: str | None = None) -> dict[str, Any]:
            self.stats.failures[reason] += 1
            result.update(failure_reason=reason, failure_detail=detail)
            return result

        # Every generator in turn (one request open per worker), answers already paid for first.
        for index, generator in enumerate(self.generators):
            generation, error = await self._generate(row, index)
            if error is not None:
                return fail("generation_error", error)
            if generation is None:
                return fail("generation_empty")
            label, score, ok = self._check_language(generation)
            for column, value in (
                ("generations", generation),
                ("generation_models", generator.model_name),
                ("generation_recipes", self.recipes[index]),
                ("generation_languages_ok", ok),
                ("predicted_generation_languages", label),
            ):
                result[column] = [*result[column], value]
            if index == 0:
                result.update(
                    generation=generation,
                    predicted_generation_language=label,
                    predicted_generation_language_score=score,
                )
        checked = [ok for ok in result["generation_languages_ok"][1:] if ok is not None]
        result["generation_language_ok"] = all(checked) if checked else None

        # Every judge rates all answers of the row in one request, as UltraFeedback was designed.
        per_judge, rationales, swapped = [], [], []
        for judge in self.judges:
            judgement, error = await self._call(
                "judge",
                judge.model_name,
                lambda judge=judge: judge.judge(row["inputs"], result["generations"]),
            )
            if error is not None:
                return fail("judge_error", error)
            if not per_judge:
                result.update(ratings=judgement.ratings, rationales=judgement.rationales)
            if judgement.failure:
                return fail(judgement.failure)
            per_judge.append(judgement.ratings)
            rationales.append(judgement.rationales)
            if self.config.judge.swap:
                back, failure = await self._judge_reversed(row, result, judge)
                if failure:
                    return fail(*failure)
                swapped.append(back)
        panel = [_mean(list(column)) for column in zip(*per_judge, strict=True)]
        result.update(judge_ratings=per_judge, judge_rationales=rationales, panel_ratings=panel)
        if swapped:
            result.update(ratings_swapped=swapped[0], judge_ratings_swapped=swapped)
            # The panel's best against its worst: does the preference hold with the order reversed?
            picked = best_and_worst_indices(panel)
            assert picked is not None  # every rating is there: the human answer and each model's
            best, worst = picked
            back_panel = [_mean(list(column)) for column in zip(*swapped, strict=True)]
            result["position_consistent"] = _preference(panel, best, worst) == _preference(
                back_panel, best, worst
            )
        result["status"] = STATUS_JUDGED
        return result

    async def _judge_reversed(
        self, row: dict[str, Any], result: dict[str, Any], judge: Judge
    ) -> tuple[list[int] | None, tuple[str, str | None] | None]:
        """Judge again with the answers in reversed order; the ratings come back in the original order."""
        swapped, error = await self._call(
            "judge", judge.model_name, lambda: judge.judge(row["inputs"], result["generations"][::-1])
        )
        if error is not None:
            return None, ("judge_error", error)
        if swapped.failure:
            return None, (f"swap_{swapped.failure}", None)
        return swapped.ratings[::-1], None


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


def _as_list(one_or_more: T | list[T]) -> list[T]:
    return list(one_or_more) if isinstance(one_or_more, list) else [one_or_more]


async def respond_and_judge_async(
    rows: list[dict[str, Any]],
    config: LanguageConfig,
    generators: Generator | list[Generator],
    judges: Judge | list[Judge],
    concurrency: int,
    journal: Journal | None = None,
    progress: bool = False,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[list[dict[str, Any]], LLMStats]:
    """Stream every row through every generator, the language check and every judge; results keep
    the input order.

    `on_row(result)` is called once per row in the event loop thread, right after the row is
    finished and journaled (rows resumed from the journal first); it must return quickly.
    """
    generators, judges = _as_list(generators), _as_list(judges)
    stats = LLMStats()
    stage = _Stage(config, generators, judges, journal, stats)
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
                paid = journal.generations if journal is not None else {}
                # Probe only the generators that still have answers to buy, and every judge.
                roles = [
                    (f"generator ({g.model_name})" if len(generators) > 1 else "generator", g.llm)
                    for g, recipe in zip(generators, stage.recipes, strict=True)
                    if any(recipe not in paid.get(rows[i]["id"], {}) for i in todo)
                ]
                roles += [(f"judge ({j.model_name})" if len(judges) > 1 else "judge", j.llm) for j in judges]
                await preflight(roles, stats)
                await _run_workers(stage, rows, todo, concurrency, results, finish)
        finally:
            stats.retries.update(
                {
                    "generate": sum(retries_of(g.llm) for g in generators),
                    "judge": sum(retries_of(j.llm) for j in judges),
                }
            )
            stats.retries = +stats.retries  # drop zero counts
            stats.seconds = time.perf_counter() - started
            if journal is not None:
                journal.close()
            for client in [*generators, *judges]:
                await close_llm(client.llm)
    return results, stats


def respond_and_judge(
    rows: list[dict[str, Any]],
    config: LanguageConfig,
    generators: Generator | list[Generator],
    judges: Judge | list[Judge],
    concurrency: int,
    journal: Journal | None = None,
    progress: bool = False,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[list[dict[str, Any]], LLMStats]:
    """Synchronous entry point for flows, tests and benchmarks."""
    coroutine = respond_and_judge_async(
        rows, config, generators, judges, concurrency, journal, progress, on_row
    )
    return asyncio.run(coroutine)
