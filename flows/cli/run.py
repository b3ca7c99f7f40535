"""The commands that run flows: `run` (languages), `coverage` (the report) and `dispatch` (a work pool)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from flows.cli.options import (
    AllLanguages,
    Languages,
    LanguagesDir,
    Namespace,
    Public,
    Source,
    Verbose,
    check_namespace,
    chosen_languages,
    report_failure,
)
from flows.cli.prefect_server import configure_prefect, flow_runs, load_flow, temporary_server
from flows.summary import console, errors, print_summary, relative
from languages.schema import LANGUAGES_DIR
from tasks.publish.errors import OFFLINE_PUSH
from tasks.state.incremental import DEFAULT_CHECKPOINT_ROWS


def _run_each(
    language_flow: Any, chosen: list[str], parameters: dict[str, Any], verbose: bool
) -> dict[str, list] | None:
    """Against a lasting Prefect server: one `language_flow` run per language, as a deployment does."""
    outcome: dict[str, list] = {"languages": [], "failed": []}
    for code in chosen:
        state = language_flow(language=code, progress=True, **parameters, return_state=True)
        if state.is_completed():
            outcome["languages"].append(state.result())
            print_summary(outcome["languages"][-1])
        else:
            outcome["failed"].append(code)
            report_failure(state, verbose, code)
    return outcome


def _run_together(
    local_flow: Any, chosen: list[str], parameters: dict[str, Any], verbose: bool
) -> dict[str, list] | None:
    """On the temporary server: every language in one `local_flow` run (no per-language run costs)."""
    state = local_flow(languages=chosen, **parameters, verbose=verbose, return_state=True)
    outcome = state.result(raise_on_failure=False)
    if not isinstance(outcome, dict):  # the flow itself broke, not one language
        report_failure(state, verbose)
        return None
    return outcome


def run(
    languages: Languages = None,
    all_languages: AllLanguages = False,
    source: Source = "hub",
    out: Annotated[
        Path,
        typer.Option(
            help="Write each dataset repo to OUT/<namespace>/<name>/; the run journal lives here too."
        ),
    ] = Path("out"),
    push: Annotated[
        bool, typer.Option("--push", help="Push to the Hugging Face Hub instead of --out.")
    ] = False,
    llm_base_url: Annotated[str | None, typer.Option(help="Any OpenAI-compatible server.")] = None,
    llm_model: Annotated[
        str | None,
        typer.Option(help="One model for every generator and judge, in place of the config's models."),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Deterministic placeholder LLM; no network.")
    ] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=1024, help="LLM requests in flight.")] = 16,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many new rows per language.")] = None,
    namespace: Namespace = None,
    public: Public = False,
    summary_json: Annotated[Path | None, typer.Option(help="Write the run summary here as JSON.")] = None,
    languages_dir: LanguagesDir = LANGUAGES_DIR,
    checkpoint_every: Annotated[
        int,
        typer.Option(
            min=1,
            help="Publish progress every N finished rows (and every 10 minutes) during the LLM stage, "
            "so a fresh worker resumes from the destination.",
        ),
    ] = DEFAULT_CHECKPOINT_ROWS,
    retry_failed: Annotated[
        bool,
        typer.Option("--retry-failed", help="Also try rows given up after max_attempts failed runs."),
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Run each language's stages: Aya rows in, raw, curated DPO and KTO datasets out."""
    configure_prefect(verbose)
    check_namespace(namespace)
    if offline and push:
        errors.print(f"error: {OFFLINE_PUSH}", markup=False, highlight=False)
        raise typer.Exit(2)
    chosen = chosen_languages(languages, all_languages, languages_dir, "run")

    together = temporary_server()
    flow = (
        load_flow("flows.local_flow", "local_flow")
        if together
        else load_flow("flows.language_flow", "language_flow")
    )
    parameters = {
        "source": source,
        "out": str(out),
        "push": push,
        "llm_base_url": llm_base_url,
        "llm_model": llm_model,
        "offline": offline,
        "concurrency": concurrency,
        "limit": limit,
        "namespace": namespace,
        "languages_dir": str(languages_dir),
        "public": public,
        "checkpoint_every": checkpoint_every,
        "retry_failed": retry_failed,
    }
    with flow_runs():
        outcome = (_run_together if together else _run_each)(flow, chosen, parameters, verbose)
    if outcome is None:
        raise typer.Exit(1)
    reports, failed = outcome["languages"], outcome["failed"]
    if summary_json:
        summary = {"languages": reports, "failed": failed}
        summary_json.parent.mkdir(parents=True, exist_ok=True)
        summary_json.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if failed:
        raise typer.Exit(1)


def coverage(
    source: Source = "hub",
    out: Annotated[
        Path, typer.Option(help="Read the language datasets from, and write the report to, OUT.")
    ] = Path("out"),
    push: Annotated[
        bool, typer.Option("--push", help="Read from and publish to the Hugging Face Hub.")
    ] = False,
    namespace: Namespace = None,
    public: Public = False,
    hub_search: Annotated[
        bool, typer.Option("--hub-search", help="Also count other Hub datasets tagged dpo, per language.")
    ] = False,
    languages_dir: LanguagesDir = LANGUAGES_DIR,
    verbose: Verbose = False,
) -> None:
    """Build and publish the coverage report: one row per Aya language, configured or not."""
    configure_prefect(verbose)
    check_namespace(namespace)
    coverage_flow = load_flow("flows.coverage_flow", "coverage_flow")
    with flow_runs():
        state = coverage_flow(
            source=source,
            out=str(out),
            push=push,
            namespace=namespace,
            public=public,
            hub_search=hub_search,
            languages_dir=str(languages_dir),
            return_state=True,
        )
    if not state.is_completed():
        report_failure(state, verbose)
        raise typer.Exit(1)
    report = state.result()
    console.print(report["summary"], markup=False, highlight=False)
    console.print(f"other Hub preference datasets: {report['hub_search']}", markup=False, highlight=False)
    added = (
        "this report's added" if report["snapshot_added"] else "nothing changed since the last, none added"
    )
    snapshots = f"{report['snapshots']:,} snapshot{'s' * (report['snapshots'] != 1)}"
    console.print(f"history: {snapshots} ({added})", markup=False, highlight=False)
    for item in report.get("attention", []):
        console.print(f"attention: {item}", markup=False, highlight=False)
    for path in report["published"]:
        console.print(f"written: {relative(path)}", markup=False, highlight=False)


def dispatch(
    languages: Languages = None,
    all_languages: AllLanguages = False,
    languages_dir: LanguagesDir = LANGUAGES_DIR,
) -> None:
    """Trigger the deployed per-language flow for each language on the work pool; does not wait."""
    configure_prefect(verbose=False)
    chosen = chosen_languages(languages, all_languages, languages_dir, "dispatch")
    from flows.dispatch import DispatchError, trigger

    try:
        for code, flow_run in trigger(chosen):
            console.print(f"{code}: flow run {flow_run.name} ({flow_run.id})", markup=False, highlight=False)
    except DispatchError as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
