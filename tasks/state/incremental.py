"""Stage 3, skip what is done: which rows this run still has to send to the LLM, and progress
published while it runs.

The published raw dataset is the record of work done. A row judged there is done (a row the offline
placeholder wrote only for another offline run); a row that failed is tried again until it has
failed `max_attempts` times (`gave_up`). Rows whose results are already paid for (in the journal, or
an answer in the published raw data) go first and are never bought again. During the LLM stage, the
datasets are published every N finished rows (and at least every few minutes), so a worker that
dies loses one interval at most; what a checkpoint published leaves the journal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import polars as pl

from tasks.state.journal import Journal
from tasks.state.status import PLACEHOLDER_MODEL, STATUS_GAVE_UP, STATUS_JUDGED

logger = logging.getLogger(__name__)

DEFAULT_CHECKPOINT_ROWS = 500
# A slow endpoint may take long to finish N rows: publish at least this often while rows come in.
CHECKPOINT_SECONDS = 600.0


@dataclass
class Plan:
    """The rows to send this run, and what the others are."""

    todo: pl.DataFrame
    already_published: int
    gave_up: int
    left_for_next_run: int


def _placeholder(published: pl.DataFrame) -> pl.Expr:
    """Rows the offline placeholder wrote (answer or rating): no model's work."""
    made_by = [
        pl.col(column) == PLACEHOLDER_MODEL
        for column in ("generation_model", "model_name")
        if column in published.columns
    ]
    return pl.any_horizontal(made_by).fill_null(False) if made_by else pl.lit(False)


def _forget_published(journal: Journal, published: pl.DataFrame, done_ids: set[str]) -> None:
    """Forget journal rows that are already published: done rows, and rows published as the very
    attempt the journal holds (same `run_id`: a run killed after a checkpoint, before it forgot
    them). Replaying those would count an attempt that made no request; they need a new one."""
    runs: dict[str, str | None] = (
        dict(published.select("id", "run_id").iter_rows()) if "run_id" in published.columns else {}
    )
    stale = [
        row_id
        for row_id, data in journal.rows.items()
        if row_id in done_ids or (data.get("run_id") is not None and runs.get(row_id) == data["run_id"])
    ]
    stale += [row_id for row_id in journal.generations if row_id in done_ids and row_id not in journal.rows]
    if stale:
        journal.forget(stale)


def _covers(published: pl.DataFrame, models: list[str]) -> set[str]:
    """Ids of rows that hold an answer of every model in `models` (a model added later makes its
    rows due again, so only its answers and the new judgements are bought)."""
    has_list = "generation_models" in published.columns
    covered = set()
    for row in published.select(
        "id", *(["generation_models"] if has_list else []), "generation_model"
    ).iter_rows(named=True):
        answered = set(row.get("generation_models") or [row["generation_model"]])
        if set(models) <= answered:
            covered.add(row["id"])
    return covered


def _reusable_answers(
    answered: pl.DataFrame, recipes: list[str], models: list[str]
) -> list[tuple[str, str, str]]:
    """(row id, recipe, answer) for every answer of `answered` made with one of this run's recipes.

    Rows published before the recipe was recorded: the same model is the best evidence left.
    """
    recipe_of_model = dict(zip(models, recipes, strict=True))
    found = []
    for row in answered.iter_rows(named=True):
        texts, row_recipes = row.get("generations"), row.get("generation_recipes")
        if texts and row_recipes and len(texts) == len(row_recipes):
            found += [
                (row["id"], r, t) for r, t in zip(row_recipes, texts, strict=True) if r in recipes and t
            ]
            continue
        recipe = row.get("generation_recipe")
        if recipe is None:
            recipe = recipe_of_model.get(row.get("generation_model"))
        if recipe in recipes and row.get("generation"):
            found.append((row["id"], recipe, row["generation"]))
    return found


def plan_rows(
    kept: pl.DataFrame,
    published: pl.DataFrame | None,
    journal: Journal,
    generation_recipes: str | list[str],
    generator_models: str | list[str],
    limit: int | None = None,
    retry_failed: bool = False,
    required_models: list[str] | None = None,
    max_attempts: int = 3,
) -> Plan:
    """Rows of `kept` still to do, paid-for ones first; `limit` caps the rows that need new calls.

    `generation_recipes` and `generator_models` are aligned: one recipe per generator model. A row is
    done once judged with an answer of every model in `required_models` (the config's; None, as for
    an `--llm-model` or offline run: judged is done), or once judged and `max_attempts` runs have
    tried to add the missing answers. Answers of published rows that are not
    done (failed later, or judged before a model joined) are put into the journal, so only what is
    missing is bought; only answers from the same generator settings are reused. Rows the offline
    placeholder wrote are done only for another offline run. Journal rows that are already published
    are forgotten (see `_forget_published`).
    """
    recipes = [generation_recipes] if isinstance(generation_recipes, str) else list(generation_recipes)
    models = [generator_models] if isinstance(generator_models, str) else list(generator_models)
    offline = models == [PLACEHOLDER_MODEL]
    done_ids: list[str] = []
    gave_up = 0
    if published is not None and published.height:
        counts = ~_placeholder(published) if not offline else pl.lit(True)
        every = offline or required_models is None
        covered = pl.Series(
            sorted(_covers(published, required_models or [])) if not every else [], dtype=pl.String
        )
        tried = (
            pl.col("failure_reason").is_not_null() & (pl.col("attempts").fill_null(1) >= max_attempts)
            if {"failure_reason", "attempts"} <= set(published.columns)
            else pl.lit(False)
        )
        judged = (pl.col("status") == STATUS_JUDGED) & (
            pl.lit(every) | pl.col("id").is_in(covered.implode()) | tried
        )
        done = (judged | (pl.lit(not retry_failed) & (pl.col("status") == STATUS_GAVE_UP))) & counts
        done_ids = published.filter(done)["id"].to_list()
        gave_up = published.filter(
            (pl.col("status") == STATUS_GAVE_UP) & counts & pl.col("id").is_in(kept["id"].implode())
        ).height
        _forget_published(journal, published, set(done_ids))
        answered = published.filter(~done & pl.col("generation").is_not_null())
        for row_id, recipe, generation in _reusable_answers(answered, recipes, models):
            journal.generations.setdefault(row_id, {}).setdefault(recipe, generation)
    todo = kept.filter(~pl.col("id").is_in(pl.Series(done_ids, dtype=pl.String).implode()))
    already_published = kept.height - todo.height - (0 if retry_failed else gave_up)
    if retry_failed:
        gave_up = 0

    paid = pl.col("id").is_in(pl.Series(list(journal.rows), dtype=pl.String).implode())
    half_paid = pl.col("id").is_in(pl.Series(list(journal.generations), dtype=pl.String).implode())
    free = todo.filter(paid)
    rest = (
        todo.filter(~paid).with_columns(_order=~half_paid).sort("_order", maintain_order=True).drop("_order")
    )
    left = 0
    if limit is not None:
        left = max(rest.height - limit, 0)
        rest = rest.head(limit)
    return Plan(pl.concat([free, rest]), already_published, gave_up, left)


class Checkpointer:
    """Publishes the run's results so far every `every` finished rows, or every few minutes.

    `add` is called in the LLM stage's event loop for each finished row and only counts; publishing
    runs in one background thread, one checkpoint at a time, so requests keep flowing meanwhile. A
    failed checkpoint is logged and left to the next one (or to the final publish).
    """

    def __init__(
        self,
        every: int,
        publish: Callable[[list[dict[str, Any]]], list[str]],
        seconds: float = CHECKPOINT_SECONDS,
    ) -> None:
        self.every, self.publish, self.seconds = every, publish, seconds
        self.results: list[dict[str, Any]] = []
        self.published_checkpoints = 0
        self._since, self._last = 0, time.monotonic()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        self._running: Future | None = None
        self._lock = threading.Lock()

    def add(self, result: dict[str, Any]) -> None:
        self.results.append(result)
        self._since += 1
        due = self._since >= self.every or time.monotonic() - self._last >= self.seconds
        if due and (self._running is None or self._running.done()):
            self._since, self._last = 0, time.monotonic()
            self._running = self._pool.submit(self._checkpoint, list(self.results))

    def _checkpoint(self, results: list[dict[str, Any]]) -> None:
        try:
            with self._lock:
                self.publish(results)
                self.published_checkpoints += 1
        except Exception as exc:  # the next checkpoint or the final publish tries again
            logger.warning("checkpoint of %d rows not published: %s", len(results), exc)

    def wait(self) -> None:
        """Block until the checkpoint being written (if any) is done."""
        if self._running is not None:
            self._running.result()

    def finish(self) -> None:
        """Wait for a checkpoint still being written; the final publish comes after it."""
        self._pool.shutdown(wait=True)
