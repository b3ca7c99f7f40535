"""The coverage flow: one row per Aya language with what has been published for it.

Runs on its own schedule and after every per-language flow run (a deployment trigger in prefect.yaml),
and shows its table in the Prefect UI as artifacts.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State

from flows.language_flow import USER_ERRORS, publish_stage
from languages.schema import (
    LANGUAGES_DIR,
    ConfigError,
    LanguageConfig,
    Publish,
    config_paths,
    load_config_file,
    namespace_problem,
)
from tasks.coverage.dashboard import build_coverage_repo, build_coverage_space, flat, markdown_table
from tasks.coverage.history import HISTORY_DATA, append_history, snapshot
from tasks.coverage.report import build_coverage, count_hub_preference_datasets
from tasks.coverage.text import attention, summary_line
from tasks.publish.destination import Destination, read_local_file, run_lock
from tasks.publish.hub import check_push_access, hub_api, push_space, read_hub_file
from tasks.source.load import load_aya

COVERAGE_REPO = "dpo-language-coverage"
load_stage = task(load_aya, name="load", cache_policy=NO_CACHE)
# the dataset and the Space that shows its dashboard
space_stage = task(push_space, name="publish-space", cache_policy=NO_CACHE)


@task(name="hub-search", cache_policy=NO_CACHE)
def hub_search(codes: list[str], enabled: bool) -> tuple[dict[str, int] | None, str]:
    """Counts of other Hub datasets tagged `dpo` per Aya code, or None and why it was skipped."""
    if not enabled:
        return None, "not counted (pass --hub-search, with network, to count them)"
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return None, "skipped: offline (HF_HUB_OFFLINE is set)"
    try:
        return count_hub_preference_datasets(codes, hub_api()), "datasets tagged `dpo` on the Hub"
    except Exception as exc:  # no network, rate limits: the report is still worth publishing
        return None, f"skipped: the Hub could not be searched ({type(exc).__name__})"


def coverage_destination(
    configs: list[LanguageConfig], namespace: str | None, public: bool
) -> tuple[str, bool]:
    """Where the report goes and whether it is private.

    The namespace is `--namespace` or the one the configs publish to. The report counts every
    language's data, so it is private unless `--public` or every config publishes publicly.
    """
    problem = namespace_problem(namespace) if namespace is not None else None
    if problem:
        raise ConfigError(problem)
    namespaces = sorted({config.publish.namespace for config in configs}) or [Publish().namespace]
    if namespace is None and len(namespaces) > 1:
        raise ConfigError(
            f"the configs publish to several namespaces ({', '.join(namespaces)}): pass --namespace "
            "to choose where the coverage report goes"
        )
    private = not public and (not configs or any(config.publish.private for config in configs))
    return namespace or namespaces[0], private


def run_coverage(
    source: str,
    out: str,
    push: bool,
    namespace: str | None,
    public: bool,
    hub: bool,
    languages_dir: str | None,
) -> dict[str, Any]:
    logger = get_run_logger()
    configs = [
        load_config_file(path).published_as(namespace, public)
        for path in config_paths(Path(languages_dir or LANGUAGES_DIR))
    ]
    target, private = coverage_destination(configs, namespace, public)
    repo_id = f"{target}/{COVERAGE_REPO}"
    if push:  # before any data is read
        logger.info("pushing as Hugging Face user %s", check_push_access(target))
    aya = load_stage(source)

    def read(repo_id: str, path: str):
        return read_hub_file(repo_id, path) if push else read_local_file(Path(out), repo_id, path)

    codes = sorted({code for code in aya["language_code"].drop_nulls().unique()})
    codes = sorted({*codes, *(code for config in configs for code in config.aya_language_codes)})
    hub_counts, hub_note = hub_search(codes, hub)
    coverage = build_coverage(aya, configs, read, hub_counts)
    generated_at = datetime.now(UTC).isoformat(timespec="seconds")
    # A retry of this flow run keeps its id: its snapshot replaces the earlier attempt's.
    report_id = str(flow_run.get_id() or generated_at)
    destination = Destination(Path(out), push, private)
    message = f"dpo-factory coverage {generated_at}"
    # Read, append, publish: one report at a time per destination, so no snapshot is lost.
    with run_lock(Path(out) / ".journal" / target / f"{COVERAGE_REPO}.lock", destination.describe(repo_id)):
        published_history = destination.read(repo_id, HISTORY_DATA)
        history, added = append_history(published_history, snapshot(coverage, report_id, generated_at))
        repo = build_coverage_repo(coverage, repo_id, generated_at, hub_note, history, hub=push)
        published = publish_stage([repo], destination, message)
    if push:
        published.append(space_stage(build_coverage_space(repo, repo_id), private, message))
    summary = summary_line(coverage)
    create_table_artifact(key="dpo-language-coverage", table=flat(coverage).to_dicts(), description=summary)
    create_markdown_artifact(
        key="dpo-language-coverage-summary", markdown=f"# {summary}\n\n{markdown_table(coverage)}\n"
    )
    logger.info("%s", summary)
    return {
        "summary": summary,
        "languages": coverage.height,
        "configured": int(coverage["configured"].sum()),
        "with_curated_data": int((coverage["curated_pairs"].fill_null(0) > 0).sum()),
        "attention": attention(coverage),
        "snapshots": history["generated_at"].n_unique(),
        "snapshot_added": added,
        "hub_search": hub_note,
        "repo": repo_id,
        "private": private,
        "published": published,
    }


@flow(name="dpo-language-coverage", log_prints=False)
def coverage_flow(
    source: str = "hub",
    out: str = "out",
    push: bool = False,
    namespace: str | None = None,
    public: bool = False,
    hub_search: bool = False,
    languages_dir: str | None = None,
) -> State:
    """Build and publish the coverage report of languages."""
    try:
        report = run_coverage(source, out, push, namespace, public, hub_search, languages_dir)
    except USER_ERRORS as exc:
        get_run_logger().error("%s", exc)
        return Failed(message=str(exc))
    return Completed(message=report["summary"], data=report)
