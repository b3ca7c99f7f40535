"""The commands about language configs: `validate`, `new-language`, `languages` and `deployments`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from flows.cli.options import LanguagesDir, Source
from flows.summary import console, errors, relative
from languages.schema import LANGUAGES_DIR, ConfigError, config_paths


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


def new_language(
    code: Annotated[
        str, typer.Argument(help="ISO 639-1 or 639-3 code, or an English name: sw, swh, Swahili.")
    ],
    languages_dir: LanguagesDir = LANGUAGES_DIR,
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


def deployments(
    write: Annotated[bool, typer.Option("--write", help="Regenerate prefect.yaml from the configs.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Fail when prefect.yaml is out of date.")] = False,
    reslot: Annotated[
        bool,
        typer.Option(
            "--reslot", help="Move every config's cron to its code's slot, then write prefect.yaml."
        ),
    ] = False,
    languages_dir: LanguagesDir = LANGUAGES_DIR,
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


def list_languages(
    source: Source = "hub",
    languages_dir: LanguagesDir = LANGUAGES_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    scaffold_missing: Annotated[
        bool,
        typer.Option("--scaffold", help="Scaffold a config (as new-language does) for every unclaimed code."),
    ] = False,
) -> None:
    """Every (language name, language_code) in the source with row counts and the config claiming it."""
    from tasks.source.load import SourceError
    from tasks.source.split import claims, load_split

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
