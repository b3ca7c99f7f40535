"""The per-language flow: load, filter, skip what is published, generate and judge, format, publish.

The flow only orchestrates; every stage is a plain function in `tasks/`, wrapped here as a Prefect task.
Stage inputs are tables and models, so the tasks do not hash their inputs for caching (NO_CACHE).
Two records make runs resumable and incremental: the journal under `<out>/.journal/` holds LLM results
of a run that has not published yet, and the published raw dataset holds every row already done.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed, State

from languages.schema import LANGUAGES_DIR, ConfigError, LanguageConfig, load_language
from tasks.filter import filter_rows
from tasks.format import build_dpo, build_kto, build_raw, merge_raw, quality_stats
from tasks.generate import Generator
from tasks.journal import Journal, fingerprint
from tasks.judge import Judge
from tasks.langid import LanguageModelError
from tasks.llm import CredentialsError, EndpointChoice, build_llm, resolve_endpoint
from tasks.llm_stage import EndpointError, LLMStats, respond_and_judge
from tasks.load import SourceError, describe_source
from tasks.publish import (
    PublishError,
    build_curated_repo,
    build_raw_repo,
    check_push_access,
    push,
    read_hub_raw,
    read_local_raw,
    write_local,
)
from tasks.split import load_split


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


@task(name="published-raw", cache_policy=NO_CACHE)
def published_raw(config: LanguageConfig, out: str, to_hub: bool) -> pl.DataFrame | None:
    """The raw rows already published: the record of work done by earlier runs."""
    return read_hub_raw(config.raw_repo) if to_hub else read_local_raw(Path(out), config.raw_repo)


@task(name="publish", cache_policy=NO_CACHE)
def publish_stage(repos: list, out: str, to_hub: bool, private: bool, message: str) -> list[str]:
    """Write the repos under `out` (Hub layout) or push them, one commit per repo."""
    if to_hub:
        return push(repos, private=private, message=message)
    return [str(path) for path in write_local(repos, Path(out))]


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


def _recipe(config: LanguageConfig, generator: EndpointChoice, judge: EndpointChoice) -> str:
    return fingerprint(generator, judge, config.generation, config.judge, config.lid)


def run_language(language: str, options: RunOptions) -> dict[str, Any]:
    """The whole per-language job; returns the run report (also the `--summary-json` entry)."""
    logger = get_run_logger()
    run_id = uuid.uuid4().hex[:12]
    run_at = datetime.now(UTC).isoformat(timespec="seconds")
    clock = _Clock()

    config = _config(language, options)
    generator_choice = resolve_endpoint(
        config.generation, options.llm_base_url, options.llm_model, options.offline
    )
    judge_choice = resolve_endpoint(config.judge, options.llm_base_url, options.llm_model, options.offline)
    if options.push:
        logger.info("pushing as Hugging Face user %s", check_push_access(config.publish.namespace))
    # Clients are built first so a missing token fails before any data is read.
    generator = Generator(build_llm(config.generation, generator_choice, "generator"), config.generation)
    judge = Judge(build_llm(config.judge, judge_choice, "judge"), config.judge)
    clock.lap("setup")

    aya = load_stage(options.source)
    clock.lap("load")
    filtered = filter_stage(aya, config)
    clock.lap("filter")
    logger.info("%s: %d Aya rows, %d kept after filtering", language, filtered.rows_in, filtered.kept.height)
    if filtered.kept.height == 0:
        reasons = ", ".join(f"{k} {v}" for k, v in filtered.dropped.items()) or "no rows in the source"
        raise NothingToDoError(f"{language}: 0 of {filtered.rows_in} rows left after filtering ({reasons})")

    published = published_raw(config, options.out, options.push)
    done = published.filter(pl.col("status") == "judged")["id"] if published is not None else []
    todo = filtered.kept.filter(~pl.col("id").is_in(pl.Series(done, dtype=pl.String).implode()))
    already_published = filtered.kept.height - todo.height
    left_for_next_run = max(todo.height - options.limit, 0) if options.limit is not None else 0
    todo = todo.head(options.limit) if options.limit is not None else todo
    clock.lap("skip_published")

    journal = Journal(journal_path(options.out, config), _recipe(config, generator_choice, judge_choice))
    if published is not None and published.height:
        # A published row that failed at the judge already has its answer: judge it, don't buy it again.
        answered = published.filter((pl.col("status") != "judged") & pl.col("generation").is_not_null())
        answered = answered.filter(pl.col("generation_model") == generator.model_name)
        for row_id, generation in answered.select("id", "generation").iter_rows():
            journal.generations.setdefault(row_id, {"generation": generation})
    results, stats = [], LLMStats()
    if todo.height:
        results, stats = llm_stage(
            todo.to_dicts(), config, generator, judge, options.concurrency, journal, options.progress
        )
    clock.lap("llm")

    raw = merge_raw(published, build_raw(results, run_id, run_at))
    dpo, curation_drops = build_dpo(raw, config.curation)
    kto = build_kto(dpo)
    clock.lap("format")

    report: dict[str, Any] = {
        "language": language,
        "name": config.name,
        "run_id": run_id,
        "run_at": run_at,
        "source": describe_source(options.source),
        "llm": "offline placeholder (no LLM was called)" if options.offline else generator_choice.base_url,
        "generation_model": generator.model_name,
        "judge_model": judge.model_name,
        "filter": {
            "rows_in": filtered.rows_in,
            "kept": filtered.kept.height,
            "dropped": filtered.dropped,
            "examples": filtered.examples,
        },
        "already_published": already_published,
        "left_for_next_run": left_for_next_run,
        "processed": len(results),
        "llm_stage": stats.as_dict(),
        "this_run": {
            "judged": sum(r["status"] == "judged" for r in results),
            "failed": sum(r["status"] == "failed" for r in results),
        },
        "datasets": {
            "raw_rows": raw.height,
            "judged_rows": int((raw["status"] == "judged").sum()) if raw.height else 0,
            "curated_pairs": dpo.height,
            "kto_rows": kto.height,
            "curation_dropped": curation_drops,
        },
        "quality": quality_stats(raw, dpo),
        "repos": {"raw": config.raw_repo, "curated": config.curated_repo},
        "published": [],
    }
    if results or published is None:
        repos = [
            build_raw_repo(config, raw, report),
            build_curated_repo(config, dpo, kto, curation_drops, report),
        ]
        recipe = (Path(options.languages_dir or LANGUAGES_DIR) / f"{language}.yaml").read_bytes()
        for repo in repos:  # each dataset carries the exact config it was made with
            repo.files[f"recipe/{language}.yaml"] = recipe
        message = f"dpo-factory run {run_id}: {language}, {len(results)} rows"
        report["published"] = publish_stage(repos, options.out, options.push, config.publish.private, message)
    # Published (or nothing new to publish): from here on the raw dataset is the record, not the journal.
    journal.remove()
    clock.lap("publish")
    report["seconds"] = clock.seconds
    logger.info(
        "%s: %d processed, %d curated pairs, %d KTO rows", language, len(results), dpo.height, kto.height
    )
    return report


@flow(name="aya-dpo-language", log_prints=False)
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
) -> State:
    """Turn the Aya rows of one language into raw, curated DPO and KTO datasets."""
    options = RunOptions(
        source,
        out,
        push,
        llm_base_url,
        llm_model,
        offline,
        concurrency,
        limit,
        namespace,
        languages_dir,
        progress,
        public,
    )
    try:
        report = run_language(language, options)
    except USER_ERRORS as exc:
        get_run_logger().error("%s", exc)
        return Failed(message=str(exc))
    return Completed(message=f"{language}: {report['datasets']['curated_pairs']} curated pairs", data=report)
