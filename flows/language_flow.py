"""The per-language flow: load, filter, skip what is published, generate and judge, format, publish.

The flow only orchestrates; every stage is a plain function in `tasks/`, wrapped here as a Prefect task.
Stage inputs are tables and models, so the tasks do not hash their inputs for caching (NO_CACHE).
Two records make runs resumable and incremental: the journal under `<out>/.journal/` holds LLM results
of a run that has not published yet, and the published raw dataset holds every row already done.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed, State

from flows.summary import failure_message
from languages.langid import LanguageModelError
from languages.schema import LANGUAGES_DIR, ConfigError, LanguageConfig, load_language
from tasks.filter.rules import filter_rows
from tasks.format.rebuild import LanguageState
from tasks.llm.client import CredentialsError, EndpointChoice, build_llm, resolve_endpoints
from tasks.llm.generate import Generator
from tasks.llm.judge import Judge
from tasks.llm.stage import EndpointError, LLMStats, respond_and_judge
from tasks.publish.destination import Destination, run_lock
from tasks.publish.errors import OFFLINE_PUSH, PublishError
from tasks.publish.hub import HubUnavailableError, check_push_access
from tasks.publish.repos import RAW_DATA
from tasks.review.errors import ReviewError
from tasks.review.sync import sync_language
from tasks.source.load import SourceError, describe_source
from tasks.source.split import load_split
from tasks.state.incremental import DEFAULT_CHECKPOINT_ROWS, Checkpointer, plan_rows
from tasks.state.journal import Journal, fingerprint
from tasks.state.status import STATUS_JUDGED


class NothingToDoError(ValueError):
    """No Aya row of the language survived filtering; publishing would only erase data."""


# Errors whose message says everything a user needs: the CLI prints them as one line, no traceback.
USER_ERRORS = (
    ConfigError,
    SourceError,
    CredentialsError,
    EndpointError,
    LanguageModelError,
    PublishError,
    NothingToDoError,
)

load_stage = task(load_split, name="load", cache_policy=NO_CACHE)
filter_stage = task(filter_rows, name="filter", cache_policy=NO_CACHE)
llm_stage = task(respond_and_judge, name="generate-and-judge", cache_policy=NO_CACHE)
# A scheduled run with a real endpoint takes hours; one that takes longer than this is stuck.
# Progress is published every --checkpoint-every rows, so a timeout loses one interval at most.
FLOW_TIMEOUT_SECONDS = 12 * 3600


def _hub_hiccup(task: object, task_run: object, state: State) -> bool:
    """Retry Hub reads and writes on rate limits, server errors and dropped connections only."""
    try:
        state.result(raise_on_failure=True)
    except HubUnavailableError:
        return True
    except Exception:
        return False
    return False


# Hub reads and writes are retried on rate limits, server errors and dropped connections only.
HUB_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": [10, 60, 300],
    "retry_condition_fn": _hub_hiccup,
}


@task(name="published-raw", cache_policy=NO_CACHE, **HUB_RETRIES)
def published_raw(destination: Destination, repo_id: str, curated_repo: str) -> pl.DataFrame | None:
    """The raw rows already published: the record of work done by earlier runs.

    On the Hub, the curated repo's head is read too: every commit of this run goes on top of what it read.
    """
    return destination.read(repo_id, RAW_DATA, published_after=[curated_repo])


@task(name="publish", cache_policy=NO_CACHE, **HUB_RETRIES)
def publish_stage(repos: list, destination: Destination, message: str) -> list[str]:
    """Write or push every repo whose content differs from what is published, one commit per repo."""
    return destination.publish(repos, message)


@dataclass(frozen=True)
class RunOptions:
    """Everything a run is asked to do besides the language; mirrors the flow's parameters."""

    source: str = "hub"
    out: str = "out"
    push: bool = False
    llm_base_url: str | None = None
    llm_model: str | None = None
    offline: bool = False
    concurrency: int = 16
    limit: int | None = None
    namespace: str | None = None
    languages_dir: str | None = None
    progress: bool = False
    public: bool = False
    checkpoint_every: int = DEFAULT_CHECKPOINT_ROWS
    retry_failed: bool = False

    @classmethod
    def of(cls, parameters: dict[str, Any]) -> RunOptions:
        """The options among a flow's parameters (its `locals()`); the others are left out."""
        return cls(**{f.name: parameters[f.name] for f in fields(cls) if f.name in parameters})


class _Clock:
    """Seconds per stage, for the summary."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._last, 3)
        self._last = now


def _config(language: str, options: RunOptions) -> LanguageConfig:
    config = load_language(language, Path(options.languages_dir or LANGUAGES_DIR))
    return config.published_as(options.namespace, options.public)


def journal_path(out: str, config: LanguageConfig) -> Path:
    """`<out>/.journal/<namespace>/<raw repo name>.jsonl`, next to the output it will become."""
    namespace, name = config.raw_repo.split("/")
    return Path(out) / ".journal" / namespace / f"{name}.jsonl"


def _recipes(
    config: LanguageConfig, generators: list[EndpointChoice], judges: list[EndpointChoice]
) -> tuple[list[str], str]:
    """Fingerprints of what decides each generator's answers (its model, the system prompt and
    sampling; not the endpoint's address: the same model behind another server, a new port or a
    mirror, gives answers just as valid) and a finished row (everything, the judges' settings whole)."""
    settings = config.generation.model_dump(
        exclude={"base_url", "model", "models", "timeout_seconds", "max_retries"}
    )
    answers = [fingerprint(g.model, g.offline, settings) for g in generators]
    panel = [(j.model, j.offline) for j in judges]
    judge_settings = config.judge.model_dump(exclude={"model", "models"})
    return answers, fingerprint(answers, panel, judge_settings, config.lid)


def _review_after_run(config: LanguageConfig, destination: Destination, recipe_file: bytes) -> dict[str, Any]:
    """A review sync once the LLM results are published; a failed one is logged and retried next time."""
    try:
        raw = published_raw(destination, config.raw_repo, config.curated_repo)
        return sync_language(config, destination, recipe_file, raw, publish_stage)
    except (ReviewError, PublishError) as exc:
        get_run_logger().warning("%s: review sync skipped: %s", config.code, exc)
        return {"error": str(exc)}


def run_language(language: str, options: RunOptions) -> dict[str, Any]:
    """The whole per-language job; returns the run report (also the `--summary-json` entry)."""
    logger = get_run_logger()
    run_id = uuid.uuid4().hex[:12]
    run_at = datetime.now(UTC).isoformat(timespec="seconds")
    clock = _Clock()

    config = _config(language, options)
    if options.offline and options.push:
        raise PublishError(OFFLINE_PUSH)
    generator_choices = resolve_endpoints(
        config.generation, options.llm_base_url, options.llm_model, options.offline
    )
    judge_choices = resolve_endpoints(config.judge, options.llm_base_url, options.llm_model, options.offline)
    configured = len(config.generation.model_ids) + len(config.judge.model_ids)
    if options.llm_model and configured > 2:
        logger.info(
            "%s: --llm-model %s answers and judges alone, in place of the config's %d generator and %d judge models",
            language,
            options.llm_model,
            len(config.generation.model_ids),
            len(config.judge.model_ids),
        )
    if options.push:
        logger.info("pushing as Hugging Face user %s", check_push_access(config.publish.namespace))
    # Clients are built first so a missing token fails before any data is read.
    generation_recipes, row_recipe = _recipes(config, generator_choices, judge_choices)
    generators = [
        Generator(build_llm(config.generation, choice, "generator"), config.generation, recipe)
        for choice, recipe in zip(generator_choices, generation_recipes, strict=True)
    ]
    judges = [Judge(build_llm(config.judge, choice, "judge"), config.judge) for choice in judge_choices]
    generator_models = [g.model_name for g in generators]
    destination = Destination(Path(options.out), options.push, config.publish.private)
    journal_file = journal_path(options.out, config)
    clock.lap("setup")

    aya = load_stage(options.source)
    clock.lap("load")
    filtered = filter_stage(aya, config)
    clock.lap("filter")
    logger.info("%s: %d Aya rows, %d kept after filtering", language, filtered.rows_in, filtered.kept.height)
    if filtered.kept.height == 0:
        reasons = ", ".join(f"{k} {v}" for k, v in filtered.dropped.items()) or "no rows in the source"
        raise NothingToDoError(f"0 of {filtered.rows_in} rows left after filtering ({reasons})")

    # One run per language and destination: a second one stops here, before it reads or buys anything.
    with run_lock(journal_file.with_suffix(".lock"), destination.describe(config.raw_repo)):
        published = published_raw(destination, config.raw_repo, config.curated_repo)
        journal = Journal(journal_file, generation_recipes, row_recipe, run_id, run_at)
        plan = plan_rows(
            filtered.kept,
            published,
            journal,
            generation_recipes,
            generator_models,
            options.limit,
            options.retry_failed,
            # A row needs every configured model's answer; a one-model override or offline run only
            # fills rows that are not judged yet, and never replaces the configured models' answers.
            None if options.llm_model or options.offline else config.generation.model_ids,
            config.max_attempts,
        )
        clock.lap("skip_published")

        report: dict[str, Any] = {
            "language": language,
            "name": config.name,
            "run_id": run_id,
            "run_at": run_at,
            "source": describe_source(options.source),
            "llm": "offline placeholder (no LLM was called)"
            if options.offline
            else generator_choices[0].base_url,
            "generation_model": generator_models[0],
            "judge_model": judges[0].model_name,
            "generation_models": generator_models,
            "judge_models": [j.model_name for j in judges],
            "filter": {
                "rows_in": filtered.rows_in,
                "kept": filtered.kept.height,
                "dropped": filtered.dropped,
                "examples": filtered.examples,
            },
            "already_published": plan.already_published,
            "gave_up": plan.gave_up,
            "left_for_next_run": plan.left_for_next_run,
            "repos": {"raw": config.raw_repo, "curated": config.curated_repo},
        }
        recipe_file = (Path(options.languages_dir or LANGUAGES_DIR) / f"{language}.yaml").read_bytes()
        # Curation uses the answers of the configured models and of any this run used (`--llm-model`);
        # an offline run keeps every answer: the placeholder's are no model's choice.
        curated_models = (
            None if options.offline else [*dict.fromkeys(config.generation.model_ids + generator_models)]
        )
        state = LanguageState(
            config, published, filtered, run_id, run_at, generation_recipes[0], recipe_file, curated_models
        )

        def checkpoint(rows: list[dict[str, Any]]) -> list[str]:
            """Progress in the middle of the LLM stage (a plain call: it runs in a thread).

            Published rows leave the journal, as after the final publish: the raw dataset is their record.
            """
            message = f"dpo-factory run {run_id}: {language}, checkpoint at {len(rows)} rows"
            written = destination.publish(state.repos(rows, dict(report)), message)
            journal.forget(row["id"] for row in rows)
            return written

        checkpoints = Checkpointer(options.checkpoint_every, checkpoint)
        results, stats = [], LLMStats()
        if plan.todo.height:
            try:
                results, stats = llm_stage(
                    plan.todo.to_dicts(),
                    config,
                    generators,
                    judges,
                    options.concurrency,
                    journal,
                    options.progress,
                    on_row=checkpoints.add,
                )
            finally:
                checkpoints.finish()
        clock.lap("llm")

        report["processed"] = len(results)
        report["llm_stage"] = stats.as_dict()
        report["this_run"] = {
            "judged": sum(r["status"] == STATUS_JUDGED for r in results),
            "failed": sum(r["status"] != STATUS_JUDGED for r in results),
            "checkpoints": checkpoints.published_checkpoints,
        }
        repos = state.repos(results, report)
        clock.lap("format")
        message = f"dpo-factory run {run_id}: {language}, {len(results)} rows"
        report["published"] = publish_stage(repos, destination, message)
        # Published: the raw dataset is the record of these rows now, not the journal.
        journal.forget(row["id"] for row in results)
        clock.lap("publish")
        if config.review is not None and not options.offline:
            report["review"] = _review_after_run(config, destination, recipe_file)
            clock.lap("review")
    report["seconds"] = clock.seconds
    logger.info(
        "%s: %d processed, %d curated pairs, %d KTO rows",
        language,
        len(results),
        report["datasets"]["curated_pairs"],
        report["datasets"]["kto_rows"],
    )
    return report


@flow(name="aya-dpo-language", log_prints=False, timeout_seconds=FLOW_TIMEOUT_SECONDS)
def language_flow(
    language: str,
    source: str = "hub",
    out: str = "out",
    push: bool = False,
    llm_base_url: str | None = None,
    llm_model: str | None = None,
    offline: bool = False,
    concurrency: int = 16,
    limit: int | None = None,
    namespace: str | None = None,
    languages_dir: str | None = None,
    progress: bool = False,
    public: bool = False,
    checkpoint_every: int = DEFAULT_CHECKPOINT_ROWS,
    retry_failed: bool = False,
) -> State:
    """Turn the Aya rows of one language into raw, curated DPO and KTO datasets."""
    options = RunOptions.of(locals())
    try:
        report = run_language(language, options)
    except USER_ERRORS as exc:
        message = failure_message(language, exc)
        get_run_logger().error("%s", message)
        return Failed(message=message)
    return Completed(message=f"{language}: {report['datasets']['curated_pairs']} curated pairs", data=report)
