"""The per-language flow: load, filter, skip what is published, generate and judge, format, publish.

The flow only orchestrates; every stage is a plain function in `tasks/`, wrapped here as a Prefect task.
Stage inputs are tables and models, so the tasks do not hash their inputs for caching (NO_CACHE);
resumability comes from the published raw dataset, which records every row already done.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed, State

from languages.schema import LANGUAGES_DIR, ConfigError, LanguageConfig, load_language
from tasks.filter import FilterResult, filter_rows
from tasks.format import build_dpo, build_kto, build_raw, merge_raw
from tasks.generate import Generator
from tasks.judge import Judge
from tasks.langid import LanguageModelError
from tasks.llm import CredentialsError, build_llm, resolve_endpoint
from tasks.llm_stage import LLMStats, respond_and_judge
from tasks.load import SourceError, describe_source, load_aya
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


class NothingToDoError(ValueError):
    """No Aya row of the language survived filtering; publishing would only erase data."""


# Errors whose message says everything a user needs: the CLI prints them as one line, no traceback.
USER_ERRORS = (ConfigError, SourceError, CredentialsError, LanguageModelError, PublishError, NothingToDoError)

load_stage = task(load_aya, name="load", cache_policy=NO_CACHE)
filter_stage = task(filter_rows, name="filter", cache_policy=NO_CACHE)
llm_stage = task(respond_and_judge, name="generate-and-judge", cache_policy=NO_CACHE)


@task(name="published-raw", cache_policy=NO_CACHE)
def published_raw(config: LanguageConfig, out: str | None, to_hub: bool) -> pl.DataFrame | None:
    """The raw rows already published: the record of work done by earlier runs."""
    if to_hub:
        return read_hub_raw(config.raw_repo)
    return read_local_raw(Path(out), config.raw_repo) if out else None


@task(name="publish", cache_policy=NO_CACHE)
def publish_stage(repos: list, out: str | None, to_hub: bool, private: bool, message: str) -> list[str]:
    """Write the repos under `out` (Hub layout) or push them, one commit per repo."""
    if to_hub:
        return push(repos, private=private, message=message)
    return [str(path) for path in write_local(repos, Path(out))]


def _with_namespace(config: LanguageConfig, namespace: str | None) -> LanguageConfig:
    if not namespace:
        return config
    return config.model_copy(update={"publish": config.publish.model_copy(update={"namespace": namespace})})


def _run(
    language: str,
    source: str,
    out: str | None,
    push_to_hub: bool,
    llm_base_url: str | None,
    llm_model: str | None,
    offline: bool,
    concurrency: int,
    limit: int | None,
    namespace: str | None,
    languages_dir: str | None,
) -> dict[str, Any]:
    logger = get_run_logger()
    run_id = uuid.uuid4().hex[:12]
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = round(now - clock, 3)
        clock = now

    config = _with_namespace(load_language(language, Path(languages_dir or LANGUAGES_DIR)), namespace)
    generator_choice = resolve_endpoint(config.generation, llm_base_url, llm_model, offline)
    judge_choice = resolve_endpoint(config.judge, llm_base_url, llm_model, offline)
    if push_to_hub:
        logger.info("pushing as Hugging Face user %s", check_push_access())
    # Clients are built first so a missing token fails before any data is read.
    generator = Generator(build_llm(config.generation, generator_choice, "generator"), config.generation)
    judge = Judge(build_llm(config.judge, judge_choice, "judge"), config.judge)
    lap("setup")

    aya = load_stage(source)
    lap("load")
    filtered: FilterResult = filter_stage(aya, config)
    lap("filter")
    logger.info("%s: %d Aya rows, %d kept after filtering", language, filtered.rows_in, filtered.kept.height)
    if filtered.kept.height == 0:
        reasons = ", ".join(f"{k} {v}" for k, v in filtered.dropped.items()) or "no rows in the source"
        raise NothingToDoError(f"{language}: 0 of {filtered.rows_in} rows left after filtering ({reasons})")

    published = published_raw(config, out, push_to_hub)
    done_ids = (
        published.filter(pl.col("status") == "judged")["id"]
        if published is not None
        else pl.Series([], dtype=pl.String)
    )
    todo = filtered.kept.filter(~pl.col("id").is_in(done_ids.implode()))
    already_published = filtered.kept.height - todo.height
    limited = todo.height - limit if limit is not None and todo.height > limit else 0
    if limited:
        todo = todo.head(limit)
    lap("skip_published")

    if todo.height:
        results, stats = llm_stage(todo.to_dicts(), config, generator, judge, concurrency)
    else:
        results, stats = [], LLMStats()
    lap("llm")

    raw = merge_raw(published, build_raw(results, run_id))
    dpo, curation_drops = build_dpo(raw, config.curation)
    kto = build_kto(dpo)
    lap("format")

    report: dict[str, Any] = {
        "language": language,
        "name": config.name,
        "run_id": run_id,
        "source": describe_source(source),
        "llm": "offline placeholder (no LLM was called)" if offline else generator_choice.base_url,
        "generation_model": generator.model_name,
        "judge_model": judge.model_name,
        "filter": {"rows_in": filtered.rows_in, "kept": filtered.kept.height, "dropped": filtered.dropped},
        "already_published": already_published,
        "left_for_next_run": limited,
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
        "repos": {"raw": config.raw_repo, "curated": config.curated_repo},
    }
    if results or published is None:
        repos = [
            build_raw_repo(config, raw, report),
            build_curated_repo(config, dpo, kto, curation_drops, report),
        ]
        report["published"] = publish_stage(
            repos,
            out,
            push_to_hub,
            config.publish.private,
            f"dpo-factory run {run_id}: {language}, {len(results)} rows",
        )
    else:
        report["published"] = []  # nothing new: the published version already is this run's result
    lap("publish")
    report["seconds"] = seconds
    logger.info(
        "%s: %d processed, %d curated pairs, %d KTO rows", language, len(results), dpo.height, kto.height
    )
    return report


@flow(name="aya-dpo-language", log_prints=False)
def language_flow(
    language: str,
    source: str = "hub",
    out: str | None = "out",
    push: bool = False,
    llm_base_url: str | None = None,
    llm_model: str | None = None,
    offline: bool = False,
    concurrency: int = 16,
    limit: int | None = None,
    namespace: str | None = None,
    languages_dir: str | None = None,
) -> State:
    """Turn the Aya rows of one language into raw, curated DPO and KTO datasets."""
    try:
        report = _run(
            language,
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
        )
    except USER_ERRORS as exc:
        get_run_logger().error("%s", exc)
        return Failed(message=str(exc))
    return Completed(message=f"{language}: {report['datasets']['curated_pairs']} curated pairs", data=report)
