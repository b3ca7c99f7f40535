"""`dpo-factory`: run per-language flows and check language configs from the command line."""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from flows.summary import (
    TRACEBACK_HINT,
    console,
    errors,
    failure_message,
    print_failure,
    print_summary,
    relative,
)
from languages.schema import (
    LANGUAGES_DIR,
    ConfigError,
    available_languages,
    config_paths,
    missing_config_hint,
)
from tasks.incremental import DEFAULT_CHECKPOINT_ROWS

app = typer.Typer(
    help="Turn the Aya dataset into per-language DPO, ORPO and KTO preference data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _configure_prefect(verbose: bool) -> None:
    """Prefect as the CLI wants it; set before Prefect is imported.

    The CLI prints its own summary and error lines; Prefect's console log is for --verbose. Logs
    still reach the Prefect API (and its UI) either way. The other settings only matter to the
    temporary server this command starts when no PREFECT_API_URL is set.
    """
    warnings.filterwarnings("ignore", module=r"pydantic\..*")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    # distilabel warns that standalone tasks have no Pipeline: they are meant to run standalone here.
    logging.getLogger("distilabel").setLevel(logging.ERROR)
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "INFO" if verbose else "CRITICAL")
    # The ephemeral server would try to send usage telemetry; runs must work with no network.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # On a busy machine the temporary server can take longer than Prefect's 20 s to answer.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    # The temporary server stores task runs and events from the event stream in the background, and
    # in its SQLite database those writes collide with creating the next flow run: "database is
    # locked", a 503, retried after 2 s or more (7-15 times in one `run --all`). So it keeps flow runs,
    # their states and logs (task runs' log lines too); a lasting server (PREFECT_API_URL) keeps all.
    for service in ("TASK_RUN_RECORDER", "EVENT_PERSISTER"):
        os.environ.setdefault(f"PREFECT_SERVER_SERVICES_{service}_ENABLED", "false")


def _start_prefect_server() -> threading.Thread | None:
    """Boot Prefect's ephemeral API in the background while the heavy imports run.

    With no PREFECT_API_URL, Prefect starts a temporary local server at the first flow call and waits
    for it (several seconds); starting it here overlaps that wait with importing distilabel and
    datasets. The thread must be joined before the first flow call. Any failure is left to Prefect,
    which then starts the server itself as usual; a server that did not come up in time is stopped
    first, so no orphaned server process outlives the command (and holds its output pipes open).
    """
    if not _temporary_server():
        return None
    from prefect.server.api.server import SubprocessASGIServer

    def start() -> None:
        server = SubprocessASGIServer()
        try:
            server.start()
        except Exception:
            with contextlib.suppress(Exception):
                server.stop()

    thread = threading.Thread(target=start, name="prefect-server-start", daemon=True)
    thread.start()
    return thread


def _temporary_server() -> bool:
    """True when no Prefect API is configured, so flows report to a server that ends with this command."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    return not PREFECT_API_URL.value() and bool(PREFECT_SERVER_EPHEMERAL_ENABLED.value())


@contextlib.contextmanager
def _flow_runs() -> Iterator[None]:
    """Settings for the flow runs of one command: no heartbeats when the server is temporary.

    Heartbeats let a lasting Prefect server mark a flow run whose process died as crashed. A
    temporary server dies with the process, so nothing would ever read them, and each flow run
    pays up to a second for them when it ends (Prefect joins the heartbeat thread, which sleeps in
    one-second steps): a second per language in `run --all`. Against a real server (PREFECT_API_URL,
    as on a work pool) they stay on.
    """
    if not _temporary_server():
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def _load_flow(module: str, name: str) -> Any:
    """Import a flow (distilabel, datasets: seconds) while Prefect's ephemeral API boots alongside."""
    server_start = _start_prefect_server()
    flow = getattr(importlib.import_module(module), name)
    if server_start is not None:
        server_start.join()
    return flow


def _check_namespace(namespace: str | None) -> None:
    """`--namespace` is checked like the config field (`model_copy` on a config would not check it):
    one line and exit code 2 on a bad value, before anything runs or is written."""
    from languages.schema import namespace_problem

    problem = namespace_problem(namespace) if namespace is not None else None
    if problem:
        errors.print(f"error: {problem}", markup=False, highlight=False)
        raise typer.Exit(2)


def _report_failure(state: object, verbose: bool, language: str | None = None) -> None:
    """One line for a flow run that failed: its message, and where to find a traceback if unexpected."""
    message = str(getattr(state, "message", state))
    user_error = not message.startswith("Flow run encountered an exception")
    hint = "" if verbose or user_error else TRACEBACK_HINT
    print_failure(failure_message(language, message) if language else message, hint)


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
            _report_failure(state, verbose, code)
    return outcome


def _run_together(
    local_flow: Any, chosen: list[str], parameters: dict[str, Any], verbose: bool
) -> dict[str, list] | None:
    """On the temporary server: every language in one `local_flow` run (no per-language run costs)."""
    state = local_flow(languages=chosen, **parameters, verbose=verbose, return_state=True)
    outcome = state.result(raise_on_failure=False)
    if not isinstance(outcome, dict):  # the flow itself broke, not one language
        _report_failure(state, verbose)
        return None
    return outcome


def _chosen_languages(
    languages: list[str] | None, all_languages: bool, languages_dir: Path, command: str
) -> list[str]:
    """The config stems a command was asked for (`--all`: every one); one error line and exit 2 else."""
    configured = available_languages(languages_dir)
    chosen = configured if all_languages else list(languages or [])
    if not chosen:
        errors.print(f"error: name at least one language (e.g. `dpo-factory {command} nld`) or pass --all")
        raise typer.Exit(2)
    unknown = [code for code in chosen if code not in configured]
    if unknown:
        errors.print(
            f"error: unknown language(s) {', '.join(unknown)}; configured in {languages_dir}: "
            f"{', '.join(configured) or 'none'}"
            + "".join(missing_config_hint(code, languages_dir) for code in unknown),
            markup=False,
            highlight=False,
        )
        raise typer.Exit(2)
    return chosen


@app.command()
def run(
    languages: Annotated[
        list[str] | None, typer.Argument(help="Config stems, e.g. nld swh.", show_default=False)
    ] = None,
    all_languages: Annotated[bool, typer.Option("--all", help="Every language in languages/.")] = False,
    source: Annotated[
        str, typer.Option(help="hub, sample, or a parquet/jsonl path with Aya's columns.")
    ] = "hub",
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
    llm_model: Annotated[str | None, typer.Option(help="Model name for generator and judge.")] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Deterministic placeholder LLM; no network.")
    ] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=1024, help="LLM requests in flight.")] = 16,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many new rows per language.")] = None,
    namespace: Annotated[str | None, typer.Option(help="Hub namespace; overrides the configs.")] = None,
    public: Annotated[
        bool, typer.Option("--public", help="Create the Hub repos public (default: private).")
    ] = False,
    summary_json: Annotated[Path | None, typer.Option(help="Write the run summary here as JSON.")] = None,
    languages_dir: Annotated[Path, typer.Option(help="Folder of language configs.")] = LANGUAGES_DIR,
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
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show Prefect's log on the console.")
    ] = False,
) -> None:
    """Run each language's stages: Aya rows in, raw, curated DPO and KTO datasets out."""
    _configure_prefect(verbose)
    _check_namespace(namespace)
    chosen = _chosen_languages(languages, all_languages, languages_dir, "run")

    together = _temporary_server()
    flow = (
        _load_flow("flows.local_flow", "local_flow")
        if together
        else _load_flow("flows.language_flow", "language_flow")
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
    with _flow_runs():
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


@app.command()
def validate(
    files: Annotated[
        list[Path] | None, typer.Argument(help="Config files; default: every config in --languages-dir.")
    ] = None,
    languages_dir: Annotated[
        Path | None,
        typer.Option(help="Folder of language configs the files are checked against (default: their own)."),
    ] = None,
) -> None:
    """Check language configs, each against the whole folder; one line per problem, naming file and field."""
    from languages.checks import check_configs, check_folder

    folder = languages_dir or LANGUAGES_DIR
    findings = check_configs(list(files), languages_dir) if files else check_folder(folder)
    for note in findings.notes:
        console.print(note, markup=False, highlight=False)
    for problem in findings.problems:
        errors.print(problem, markup=False, highlight=False)
    if findings.problems:
        raise typer.Exit(1)
    count = len(files) if files else len(config_paths(folder))
    skipped = f" ({len(findings.notes)} with model checks skipped)" if findings.notes else ""
    console.print(f"{count} language config(s) valid{skipped}")


@app.command()
def coverage(
    source: Annotated[
        str, typer.Option(help="hub, sample, or a parquet/jsonl path with Aya's columns.")
    ] = "hub",
    out: Annotated[
        Path, typer.Option(help="Read the language datasets from, and write the report to, OUT.")
    ] = Path("out"),
    push: Annotated[
        bool, typer.Option("--push", help="Read from and publish to the Hugging Face Hub.")
    ] = False,
    namespace: Annotated[str | None, typer.Option(help="Hub namespace; overrides the configs.")] = None,
    public: Annotated[
        bool, typer.Option("--public", help="Create the Hub repo public (default: private).")
    ] = False,
    hub_search: Annotated[
        bool, typer.Option("--hub-search", help="Also count other Hub datasets tagged dpo, per language.")
    ] = False,
    languages_dir: Annotated[Path, typer.Option(help="Folder of language configs.")] = LANGUAGES_DIR,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show Prefect's log on the console.")
    ] = False,
) -> None:
    """Build and publish the coverage report: one row per Aya language, configured or not."""
    _configure_prefect(verbose)
    _check_namespace(namespace)
    coverage_flow = _load_flow("flows.coverage_flow", "coverage_flow")
    with _flow_runs():
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
        _report_failure(state, verbose)
        raise typer.Exit(1)
    report = state.result()
    console.print(report["summary"], markup=False, highlight=False)
    console.print(f"other Hub preference datasets: {report['hub_search']}", markup=False, highlight=False)
    for item in report.get("attention", []):
        console.print(f"attention: {item}", markup=False, highlight=False)
    for path in report["published"]:
        console.print(f"written: {relative(path)}", markup=False, highlight=False)


@app.command("new-language")
def new_language(
    code: Annotated[
        str, typer.Argument(help="ISO 639-1 or 639-3 code, or an English name: sw, swh, Swahili.")
    ],
    languages_dir: Annotated[Path, typer.Option(help="Folder of language configs.")] = LANGUAGES_DIR,
) -> None:
    """Scaffold languages/<code>.yaml with names, codes and fastText labels filled in."""
    from languages.scaffold import scaffold

    try:
        path, notes = scaffold(code, languages_dir)
    except ConfigError as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    console.print(f"wrote {relative(str(path))}")
    for note in notes:
        console.print(f"next: {note}", markup=False, highlight=False)
    console.print(
        f"then: dpo-factory validate {relative(str(path))} && "
        f"dpo-factory run {path.stem} --source ROWS.jsonl --offline && dpo-factory deployments --write "
        "(CONTRIBUTING.md walks through each step)",
        markup=False,
        highlight=False,
    )


@app.command()
def deployments(
    write: Annotated[bool, typer.Option("--write", help="Regenerate prefect.yaml from the configs.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Fail when prefect.yaml is out of date.")] = False,
    reslot: Annotated[
        bool,
        typer.Option(
            "--reslot", help="Move every config's cron to its code's slot, then write prefect.yaml."
        ),
    ] = False,
    languages_dir: Annotated[Path, typer.Option(help="Folder of language configs.")] = LANGUAGES_DIR,
    prefect_file: Annotated[Path | None, typer.Option(help="The file to write or check.")] = None,
) -> None:
    """Generate or check prefect.yaml: one deployment per language, with its schedule."""
    from flows.deployments import PREFECT_FILE, collect, render
    from flows.deployments import check as check_file
    from flows.deployments import reslot as reslot_configs

    if write + check + reslot != 1:
        errors.print("error: pass exactly one of --write, --check or --reslot")
        raise typer.Exit(2)
    target = prefect_file or PREFECT_FILE
    problems: list[str] = []
    if reslot:
        changes, problems = reslot_configs(languages_dir)
        for change in changes:
            console.print(f"rescheduled {change}", markup=False, highlight=False)
    # A file that cannot be read is that file's problem: the other languages are still scheduled.
    problems += [line for line in collect(languages_dir)[1] if line not in problems]
    for problem in problems:
        errors.print(f"error: {problem}", markup=False, highlight=False)
    if write or reslot:
        target.write_text(render(languages_dir), encoding="utf-8")
        skipped = f" (without the {len(problems)} file problem(s) above)" if problems else ""
        console.print(f"wrote {relative(str(target))}{skipped}")
    else:
        stale = check_file(target, languages_dir)
        if stale:
            errors.print(f"error: {stale}", markup=False, highlight=False)
            raise typer.Exit(1)
        console.print(f"{relative(str(target))} matches {relative(str(languages_dir))}")
    if problems:
        raise typer.Exit(1)


def _read_configs(directory: Path) -> dict[str, Any]:
    """Every valid config in `directory` by stem; an invalid one is reported on one line and skipped."""
    from languages.schema import load_config_file

    configs = {}
    for path in config_paths(directory):
        try:
            configs[path.stem] = load_config_file(path)
        except ConfigError as exc:
            errors.print(f"skipped: {exc}", markup=False, highlight=False)
    return configs


@app.command("languages")
def list_languages(
    source: Annotated[
        str, typer.Option(help="hub, sample, or a parquet/jsonl path with Aya's columns.")
    ] = "hub",
    languages_dir: Annotated[Path, typer.Option(help="Folder of language configs.")] = LANGUAGES_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    scaffold_missing: Annotated[
        bool,
        typer.Option("--scaffold", help="Scaffold a config (as new-language does) for every unclaimed code."),
    ] = False,
) -> None:
    """Every (language name, language_code) in the source with row counts and the config claiming it."""
    from tasks.load import SourceError
    from tasks.split import claims, load_split

    try:
        split = load_split(source)
    except SourceError as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    table, idle = claims(split, _read_configs(languages_dir))
    unclaimed = [entry for entry in table if entry["config"] is None]
    if as_json:
        document = {"languages": table, "unclaimed": unclaimed, "configs_without_rows": idle}
        console.print_json(json.dumps(document, ensure_ascii=False))
    else:
        view = Table(title=f"Languages in {source}", title_justify="left")
        for column, justify in (
            ("language", "left"),
            ("code", "left"),
            ("rows", "right"),
            ("config", "left"),
        ):
            view.add_column(column, justify=justify)  # type: ignore[arg-type]
        for entry in table:
            claimed = entry["config"] or "[yellow]unclaimed[/yellow]"
            view.add_row(str(entry["language"]), str(entry["language_code"]), f"{entry['rows']:,}", claimed)
        console.print(view)
        console.print(
            f"{len(table) - len(unclaimed)} claimed, {len(unclaimed)} unclaimed"
            + (f"; configs matching no row: {', '.join(idle)}" if idle else ""),
            markup=False,
            highlight=False,
        )
    if scaffold_missing:
        _scaffold_unclaimed(unclaimed, languages_dir)


def _scaffold_unclaimed(unclaimed: list[dict[str, Any]], directory: Path) -> None:
    """One `new-language` per unclaimed Aya code; a code that cannot be scaffolded is one error line."""
    from languages.scaffold import scaffold

    failed = False
    for code in dict.fromkeys(str(entry["language_code"]) for entry in unclaimed):
        try:
            path, _ = scaffold(code, directory)
        except ConfigError as exc:
            failed = True
            errors.print(f"error: {code}: {exc}", markup=False, highlight=False)
            continue
        console.print(f"wrote {relative(str(path))}", markup=False, highlight=False)
    if unclaimed:
        console.print(
            "next: write each new config's system prompt in its language, then dpo-factory validate",
            markup=False,
            highlight=False,
        )
    if failed:
        raise typer.Exit(1)


@app.command()
def dispatch(
    languages: Annotated[
        list[str] | None, typer.Argument(help="Config stems, e.g. nld swh.", show_default=False)
    ] = None,
    all_languages: Annotated[bool, typer.Option("--all", help="Every language in languages/.")] = False,
    languages_dir: Annotated[Path, typer.Option(help="Folder of language configs.")] = LANGUAGES_DIR,
) -> None:
    """Trigger the deployed per-language flow for each language on the work pool; does not wait."""
    _configure_prefect(verbose=False)
    chosen = _chosen_languages(languages, all_languages, languages_dir, "dispatch")
    from flows.dispatch import DispatchError, trigger

    try:
        for code, flow_run in trigger(chosen):
            console.print(f"{code}: flow run {flow_run.name} ({flow_run.id})", markup=False, highlight=False)
    except DispatchError as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None


if __name__ == "__main__":
    app()
