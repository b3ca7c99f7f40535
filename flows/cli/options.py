"""What several commands share: their option types, declared once, and the checks of their values."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.summary import TRACEBACK_HINT, errors, failure_message, print_failure
from languages.schema import available_languages, missing_config_hint

Languages = Annotated[
    list[str] | None, typer.Argument(help="Config stems, e.g. nld swh.", show_default=False)
]
AllLanguages = Annotated[bool, typer.Option("--all", help="Every language in languages/.")]
Source = Annotated[str, typer.Option(help="hub, sample, or a parquet/jsonl path with Aya's columns.")]
LanguagesDir = Annotated[Path, typer.Option(help="Folder of language configs.")]
Namespace = Annotated[str | None, typer.Option(help="Hub namespace; overrides the configs.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's log on the console.")]
Public = Annotated[bool, typer.Option("--public", help="Create Hub repos public (default: private).")]


def check_namespace(namespace: str | None) -> None:
    """`--namespace` is checked like the config field (`model_copy` on a config would not check it):
    one line and exit code 2 on a bad value, before anything runs or is written."""
    from languages.schema import namespace_problem

    problem = namespace_problem(namespace) if namespace is not None else None
    if problem:
        errors.print(f"error: {problem}", markup=False, highlight=False)
        raise typer.Exit(2)


def report_failure(state: object, verbose: bool, language: str | None = None) -> None:
    """One line for a flow run that failed: its message, and where to find a traceback if unexpected."""
    message = str(getattr(state, "message", state))
    user_error = not message.startswith("Flow run encountered an exception")
    hint = "" if verbose or user_error else TRACEBACK_HINT
    print_failure(failure_message(language, message) if language else message, hint)


def chosen_languages(
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
