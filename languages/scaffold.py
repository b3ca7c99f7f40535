"""`dpo-factory new-language CODE`: a new `languages/<code>.yaml` with everything filled in that a
library can know (names, codes, an offline language-ID model and its labels, the language's schedule
slot), and a TODO only where a person must write: the system prompt, in the language itself.

Nothing here depends on the other configs being readable: an empty or broken file next to the new one
is that file's problem (`dpo-factory validate` names it), never a reason to fail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfoNotFoundError

import langcodes

from languages.checks import MODEL_NAMES, TODO_MARK
from languages.schema import (
    CONFIG_SUFFIX,
    LANGUAGES_DIR,
    ConfigError,
    config_paths,
    misnamed_paths,
    read_config,
)
from languages.slots import (
    MINUTES_PER_WEEK,
    cron_at,
    describe_cron,
    describe_minute,
    slot_minute,
    start_minutes,
)

ENGLISH_PROMPT = (
    "You are a helpful assistant. Always answer in {name}, even if the question mentions other languages. "
    "Give a clear, correct and complete answer."
)
# langcodes distance up to which a model's label stands for the language (`nob` -> `no` is 1).
_MAX_LABEL_DISTANCE = 10
# Models that have a label for a language but cannot read it, measured on text written in the language
# for this project (tests/languages/test_contributor_path.py keeps these measurements true).
UNREADABLE: dict[str, dict[str, str]] = {
    "yor": {
        "lid176": "it scores tone-marked Yoruba 0.00 for `yo`",
        "cld3": "it reads tone-marked Yoruba as Vietnamese",
    },
    "swh": {"lid176": "it scores a Swahili system prompt 0.19 for `sw`"},
    "swa": {"lid176": "it scores a Swahili system prompt 0.19 for `sw`"},
    "nob": {"lid176": "it reads most short Bokmål questions as Danish"},
    "nor": {"lid176": "it reads most short Bokmål questions as Danish"},
}
GLOTLID_HINT = (
    "GlotLID (`lid.model: glotlid`, about 2,000 languages) knows more languages but is downloaded from "
    "the Hub at run time, so CI cannot check it"
)


@dataclass(frozen=True)
class LidChoice:
    """The language-ID model a new config uses, its labels, and why (for the notes and `lid.reason`)."""

    model: str
    labels: list[str]
    why: str


def resolve(query: str) -> langcodes.Language:
    """An ISO 639-1 or 639-3 code, or an English language name, as a langcodes Language."""
    try:
        language = langcodes.get(query) if len(query) <= 3 else langcodes.find(query)
    except (LookupError, ValueError):
        language = None
    known = language is not None and language.is_valid() and language.language not in (None, "und")
    if not known or language.display_name().startswith("Unknown language"):
        raise ConfigError(f"unknown language '{query}': give an ISO 639-1 or 639-3 code or an English name")
    return language


def _name(language: langcodes.Language) -> str:
    return language.display_name().removesuffix(" (individual language)").removesuffix(" (macrolanguage)")


def pick_model(code: str, name: str) -> LidChoice:
    """The first offline model (lid.176, then CLD3, then langid.py) that has a label for the language
    and is not known to misread it; `none` with a reason when no offline model knows it."""
    from languages.langid import OFFLINE_MODELS, LanguageModelError, model_labels

    skipped = []
    for model in OFFLINE_MODELS:
        try:
            labels = sorted(model_labels(model))
        except LanguageModelError:
            continue
        label, _ = langcodes.closest_match(code, labels, max_distance=_MAX_LABEL_DISTANCE)
        if label == "und":
            continue
        weakness = UNREADABLE.get(code, {}).get(model)
        if weakness:
            skipped.append(f"{MODEL_NAMES[model]} has `{label}`, but {weakness}")
            continue
        why = f"{MODEL_NAMES[model]} runs offline and knows {name} as `{label}`"
        return LidChoice(model, [label], "; ".join([why, *skipped]))
    checked = ", ".join(MODEL_NAMES[model] for model in OFFLINE_MODELS)
    why = f"no offline language-ID model reads {name} ({checked} were checked)"
    return LidChoice("none", [], "; ".join([why, *skipped]))


def _taken_minutes(directory: Path, code: str) -> dict[int, str]:
    """Start minutes of the other configs that can be read; unreadable ones are skipped, not fatal."""
    taken: dict[int, str] = {}
    for path in config_paths(directory):
        config, _ = read_config(path)
        if config is None or config.schedule is None or config.code == code:
            continue
        try:
            minutes = start_minutes(config.schedule.five_fields, config.schedule.timezone)
        except (ValueError, KeyError, ZoneInfoNotFoundError):
            continue
        taken.update(dict.fromkeys(minutes, path.name))
    return taken


def free_slot(code: str, directory: Path) -> tuple[str, str | None]:
    """The language's own slot (`slot_for`), and a note when another config already starts then; the
    next free minute is used instead, so the scaffolded config validates."""
    own = slot_minute(code)
    taken = _taken_minutes(directory, code)
    minute = own
    while minute % MINUTES_PER_WEEK in taken and minute < own + MINUTES_PER_WEEK:
        minute += 1
    if minute == own:
        return cron_at(own), None
    return cron_at(minute), (
        f"{code}'s own schedule slot ({describe_minute(own)}) is taken by {taken[own]}; "
        f"using the next free minute, {describe_minute(minute)}"
    )


def yaml_scalar(value: str) -> str:
    """A YAML double-quoted scalar: `no`, `on`, `1e3` stay strings (YAML 1.1 would read them as
    booleans and numbers), any text survives. JSON strings are valid YAML double-quoted scalars."""
    return json.dumps(value, ensure_ascii=False)


def _yaml_list(values: list[str]) -> str:
    return "[" + ", ".join(yaml_scalar(value) for value in values) + "]"


def scaffold(query: str, directory: Path = LANGUAGES_DIR) -> tuple[Path, list[str]]:
    """Write `<directory>/<code>.yaml`; returns its path and notes for the person to act on."""
    language = resolve(query)
    code, name = language.to_alpha3(), _name(language)
    path = directory / f"{code}{CONFIG_SUFFIX}"
    if path.exists():
        raise ConfigError(f"{path} already exists; edit it, or run `dpo-factory validate {path}`")
    for other in misnamed_paths(directory):
        if other.stem == code:
            raise ConfigError(
                f"{other} exists but is not read: config files end in {CONFIG_SUFFIX}; rename it"
            )

    notes = [
        f"{path}: write generation.system_prompt in {name} (an English version is in the comment above it)"
    ]
    choice = pick_model(code, name)
    if choice.model == "none":
        lid = (
            '  # Nothing checks the language of prompts and answers: reports say "not checked".\n'
            "  model: none\n  labels: []\n"
            f"  reason: {yaml_scalar(f'{choice.why[0].upper()}{choice.why[1:]}. {GLOTLID_HINT}.')}\n"
        )
        notes.append(f"{choice.why}: its language is not checked (lid.model: none). {GLOTLID_HINT}")
    else:
        lid = (
            f"  # {choice.why}.\n"
            f"  model: {choice.model}\n  labels: {_yaml_list(choice.labels)}\n  threshold: 0.5\n"
        )
        if choice.model != "lid176":
            notes.append(
                f"lid.176 cannot check {name}, so the config uses {MODEL_NAMES[choice.model]}: {choice.why}"
            )
    cron, slot_note = free_slot(code, directory)
    if slot_note:
        notes.append(slot_note)
    english = ENGLISH_PROMPT.format(name=name)
    path.write_text(
        f"""# {name}: Aya rows with language_code {code}.
code: {yaml_scalar(code)}
name: {yaml_scalar(name)}
# Aya's codes for this language; some languages need several (dialects, scripts).
aya_language_codes: {_yaml_list([code])}
lid:
{lid}filters:
  min_prompt_chars: 8
  max_prompt_chars: 4000
  min_answer_chars: 8
  max_answer_chars: 8000
generation:
  # Write this in {name}; without it, strong models often answer in English. In English it says:
  # "{english}"
  system_prompt: {yaml_scalar(f"{TODO_MARK}: write the system prompt in {name}")}
  # Set to true once a speaker of {name} has reviewed the system prompt.
  system_prompt_reviewed: false
  temperature: 0.7
  max_new_tokens: 1024
judge:
  temperature: 0.0
  max_new_tokens: 1024
curation:
  min_margin: 1
  allow_wrong_language_rejected: false
publish:
  private: true
schedule:
  # Weekly, in the slot derived from the code (languages/slots.py): {describe_cron(cron)}.
  cron: "{cron}"
  timezone: UTC
""",
        encoding="utf-8",
    )
    return path, notes
