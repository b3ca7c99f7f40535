"""Checks across a set of language configs, beyond what the schema of one file can say.

`dpo-factory validate` reports every problem in every file, one line each, naming file and field:
schema errors, then conflicts with the other configs of the folder (Aya codes claimed twice, one repo id
for two languages, two languages starting in the same minute), repo ids the Hub would refuse,
language-ID labels the model cannot predict, and a system prompt that is still a TODO or is not
written in the language it is for. Checking one file still checks it against the whole folder.
A language-ID model that cannot be loaded here (GlotLID offline) skips that file's model checks with
a note, never a crash, so one such config cannot hide the other files' problems.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from languages.schema import LanguageConfig, config_paths, misnamed_paths, read_config
from languages.slots import describe_cron, describe_minute, slot_for, start_minutes

TODO_MARK = "TODO"
# A placeholder left in the prompt: TODO/FIXME/TBD in any case, as a marker (`todo:`, `[todo]`, the
# whole text), not the Spanish or Portuguese word `todo` ("all") inside a sentence.
_PLACEHOLDER = re.compile(
    r"(?i:^\W*(todo|fixme|tbd)\b|\b(todo|fixme|tbd)\s*[:!\]>)-]|[\[<(]\s*(todo|fixme|tbd)\b)|\b(TODO|FIXME|TBD)\b"
)
MODEL_NAMES = {"lid176": "lid.176", "glotlid": "GlotLID", "cld3": "CLD3", "langid": "langid.py"}


@dataclass
class Findings:
    """What `validate` prints: problems (non-zero exit) and notes on checks that could not run."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def has_placeholder(text: str) -> bool:
    """True when a system prompt still holds a TODO-style placeholder, in any letter case."""
    return bool(_PLACEHOLDER.search(text))


def _model_labels(model: str, known: dict[str, set[str] | None]) -> set[str] | None:
    from languages.langid import LanguageModelError, model_labels

    if model not in known:
        try:
            known[model] = model_labels(model)
        except LanguageModelError:
            known[model] = None  # GlotLID needs the Hub: offline it cannot be loaded
    return known[model]


def _model_problems(
    path: Path, config: LanguageConfig, known: dict[str, set[str] | None], findings: Findings
) -> None:
    """Labels the model cannot predict, and a system prompt that is a TODO or not in the language."""
    prompt = config.generation.system_prompt
    if has_placeholder(prompt):
        findings.problems.append(
            f"{path}: generation.system_prompt: still a {TODO_MARK}; write it in {config.name}"
        )
        return
    if not config.lid.checked:  # `model: none`: no offline model knows the language; lid.reason says why
        return
    model = config.lid.model
    labels = _model_labels(model, known)
    if labels is None:
        findings.notes.append(
            f"{MODEL_NAMES.get(model, model)} not available offline: label and prompt checks skipped for {path.name}"
        )
        return
    missing = [label for label in config.lid.labels if label not in labels]
    if missing:
        findings.problems += [
            f"{path}: lid.labels: '{label}' is not a label of the {model} model" for label in missing
        ]
        return
    from languages.langid import identify

    (prediction,) = identify([prompt], config.lid.labels, model)
    if prediction.accepted_score is not None and prediction.accepted_score < config.lid.threshold:
        findings.problems.append(
            f"{path}: generation.system_prompt: reads as '{prediction.label}', not {config.name} "
            f"(score {prediction.accepted_score:.2f} for {', '.join(config.lid.labels)} with {model}); "
            f"write it in {config.name}"
        )


def _names(config: LanguageConfig) -> set[str] | None:
    names = config.aya_language_names
    return None if names is None else set(names)


def _claim_problems(
    mine: tuple[Path, LanguageConfig], others: list[tuple[Path, LanguageConfig]]
) -> list[str]:
    """Aya codes another config claims too; fine only when both name disjoint Aya language names."""
    path, config = mine
    problems = []
    for code in config.aya_language_codes:
        clashing = []
        for other_path, other in others:
            if code not in other.aya_language_codes:
                continue
            names, other_names = _names(config), _names(other)
            if names is not None and other_names is not None and not names & other_names:
                continue
            clashing.append(other_path.name)
        if clashing:
            problems.append(
                f"{path}: aya_language_codes: '{code}' is also claimed by {', '.join(clashing)} "
                "(two configs may share a code only with disjoint aya_language_names)"
            )
    return problems


def _repo_problems(mine: tuple[Path, LanguageConfig], others: list[tuple[Path, LanguageConfig]]) -> list[str]:
    """Repo ids the Hub would refuse, and a repo id another config publishes to as well."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    path, config = mine
    problems = []
    for repo in (config.raw_repo, config.curated_repo):
        try:
            validate_repo_id(repo)
        except HFValidationError as exc:
            problems.append(
                f"{path}: name: repo id '{repo}' is not valid on the Hub: {str(exc).splitlines()[0]}"
            )
    for other_path, other in others:
        shared = [
            repo
            for repo in (config.raw_repo, config.curated_repo)
            if repo in {other.raw_repo, other.curated_repo}
        ]
        if shared:
            problems.append(
                f"{path}: name: repo id '{shared[0]}' is also the repo of {other_path.name}; "
                "give the languages different names or namespaces"
            )
    return problems


def _when(config: LanguageConfig) -> str:
    assert config.schedule is not None
    zone = config.schedule.timezone
    return f"'{config.schedule.cron}'" + ("" if zone == "UTC" else f" ({zone})")


def _schedule_problems(
    mine: tuple[Path, LanguageConfig],
    others: list[tuple[Path, LanguageConfig]],
    starts: dict[Path, frozenset[int]],
) -> list[str]:
    """Another language that starts in the same minute of the week; names both files."""
    path, config = mine
    if config.schedule is None:
        return []
    problems = []
    for other_path, other in others:
        both = starts[path] & starts.get(other_path, frozenset())
        if both:
            taken = set().union(*(starts.get(o, frozenset()) for o, _ in others))
            derived = slot_for(config.code)
            own = derived != config.schedule.five_fields and start_minutes(derived).isdisjoint(taken)
            problems.append(
                f"{path}: schedule.cron: {_when(config)} starts in the same minute as {other_path.name}'s "
                f"{_when(other)}: {describe_minute(min(both))}"
                + (f"; its own slot '{derived}' ({describe_cron(derived)}) is free" if own else "")
            )
    return problems


def check_configs(paths: list[Path], folder: Path | None = None) -> Findings:
    """Every problem in `paths`, checked against each other and against the configs in `folder`.

    `folder` defaults to the folders the files are in. A broken file there is only reported when it
    is among `paths`: it is that file's problem, and the others are still checked.
    """
    folders = [folder] if folder is not None else sorted({path.parent for path in paths})
    targets = list(dict.fromkeys(paths))
    resolved = {path.resolve() for path in targets}
    # A file named like a checked one (an edited copy of `nld.yaml`) stands in for it.
    context = [
        path
        for directory in folders
        for path in config_paths(directory)
        if path.resolve() not in resolved and path.stem not in {target.stem for target in targets}
    ]
    findings = Findings()
    valid: dict[Path, LanguageConfig] = {}
    for path in targets + context:
        config, problems = read_config(path)
        if path in targets:
            findings.problems += problems
        if config is not None:
            valid[path] = config

    starts = {
        path: start_minutes(config.schedule.five_fields, config.schedule.timezone)
        for path, config in valid.items()
        if config.schedule is not None
    }
    known: dict[str, set[str] | None] = {}
    for path in targets:
        if path not in valid:
            continue
        mine = (path, valid[path])
        others = [(other, config) for other, config in valid.items() if other != path]
        findings.problems += _claim_problems(mine, others)
        findings.problems += _repo_problems(mine, others)
        findings.problems += _schedule_problems(mine, others, starts)
        _model_problems(path, valid[path], known, findings)
    return findings


def check_folder(folder: Path) -> Findings:
    """Every config in `folder`, plus a line for each file there that is not read (`kin.yml`)."""
    findings = check_configs(config_paths(folder), folder)
    for path in misnamed_paths(folder):
        findings.problems += read_config(path)[1]
    return findings
