"""`dpo-factory new-language CODE`: a new `languages/<code>.yaml` with everything filled in that a
library can know (names, codes, fastText labels, a free schedule slot), and a TODO only where a person
must write: the system prompt, in the language itself."""

from __future__ import annotations

from pathlib import Path

import langcodes

from languages.checks import TODO_MARK
from languages.schema import LANGUAGES_DIR, ConfigError, config_paths, load_config_file

ENGLISH_PROMPT = (
    "You are a helpful assistant. Always answer in {name}, even if the question mentions other languages. "
    "Give a clear, correct and complete answer."
)
DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
HOURS = (1, 7, 13, 19)
GLOTLID_HINT = "GlotLID (`lid.model: glotlid`, about 2,000 languages) is downloaded from the Hub at run time"


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


def _free_slot(directory: Path) -> tuple[str, str]:
    taken = {load_config_file(path).schedule.cron for path in config_paths(directory)} - {None}
    for hour in HOURS:
        for day in range(1, 8):
            cron = f"0 {hour} * * {day % 7}"
            if cron not in taken:
                return cron, f"{DAYS[day % 7]} {hour:02d}:00 UTC"
    return "0 4 * * 0", "Sunday 04:00 UTC"


def scaffold(query: str, directory: Path = LANGUAGES_DIR) -> tuple[Path, list[str]]:
    """Write `<directory>/<code>.yaml`; returns its path and notes for the person to act on."""
    from tasks.langid import model_labels

    language = resolve(query)
    code, name = language.to_alpha3(), _name(language)
    path = directory / f"{code}.yaml"
    if path.exists():
        raise ConfigError(f"{path} already exists; edit it, or run `dpo-factory validate {path}`")

    notes = [
        f"{path}: write generation.system_prompt in {name} (an English version is in the comment above it)"
    ]
    label, distance = langcodes.closest_match(code, sorted(model_labels("lid176")), max_distance=10)
    if label != "und":
        lid = f"  model: lid176\n  labels: [{label}]\n  threshold: 0.5\n"
    else:
        script = language.maximize().script or "Latn"
        lid = f"  model: glotlid\n  labels: [{code}_{script}]\n  threshold: 0.5\n"
        notes.append(f"lid.176 cannot identify {name}; the config uses GlotLID instead: {GLOTLID_HINT}")
    cron, when = _free_slot(directory)
    english = ENGLISH_PROMPT.format(name=name)
    path.write_text(
        f"""# {name}: Aya rows with language_code {code}.
code: {code}
name: {name}
# Aya's codes for this language; some languages need several (dialects, scripts).
aya_language_codes: [{code}]
lid:
{lid}filters:
  min_prompt_chars: 8
  max_prompt_chars: 4000
  min_answer_chars: 8
  max_answer_chars: 8000
generation:
  # Write this in {name}; without it, strong models often answer in English. In English it says:
  # "{english}"
  system_prompt: "{TODO_MARK}: write the system prompt in {name}"
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
  cron: "{cron}"  # {when}
  timezone: UTC
""",
        encoding="utf-8",
    )
    return path, notes
