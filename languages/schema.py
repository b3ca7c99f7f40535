"""The schema of a language config (`languages/<code>.yaml`) and the functions that read it.

Thresholds and prompts are data, not code: every language has the same keys, checked by pydantic
with `extra="forbid"` so a typo in a key is an error, not a silently ignored setting.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from languages.review import Review
from languages.yaml_errors import KIND_OF, explain

LANGUAGES_DIR = Path(__file__).resolve().parent
# Config files end in `.yaml`; a `.yml` file is reported (never silently ignored, never half-read).
CONFIG_SUFFIX = ".yaml"
REFUSED_SUFFIXES = (".yml", ".YAML", ".YML", ".Yaml")

# Hugging Face Inference Providers speak the OpenAI API at this address; HF_TOKEN authenticates.
HF_ROUTER_URL = "https://router.huggingface.co/v1"
DEFAULT_GENERATOR = "meta-llama/Llama-3.3-70B-Instruct"
DEFAULT_JUDGE = "meta-llama/Llama-3.3-70B-Instruct"

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class ConfigError(ValueError):
    """A language config is missing, unreadable or invalid; the message names file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The lowest threshold a checked language may use. On the texts of benchmarks/langid_accuracy.py,
# 1.2% of texts in unrelated languages reach 0.05 on a language's lid.176 labels and 0.27% reach 0.2
# (English never passes 0.03); every shipped language reads its own texts at 0.3 or more
# (docs/languages.md). At 0.0 nothing is checked, yet consumers would report 0% wrong language.
MIN_CHECKED_THRESHOLD = 0.2


class LanguageID(_Strict):
    """Language identification of prompts, human answers and generated answers.

    `model: none` says no offline model knows the language: nothing is checked, `reason` says why.
    """

    model: Literal["lid176", "cld3", "langid", "glotlid", "none"] = "lid176"
    labels: list[Annotated[str, Field(min_length=2, max_length=16)]] = []
    threshold: Probability = 0.5
    reason: Annotated[str, Field(min_length=10, max_length=500)] | None = None

    @property
    def checked(self) -> bool:
        """Whether a model checks the language at all (false only for `model: none`)."""
        return self.model != "none"

    @model_validator(mode="after")
    def _checks_something(self) -> LanguageID:
        if not self.checked:
            if self.reason is None:
                raise ValueError(
                    "model 'none' needs a reason: say why no offline model can check the language"
                )
            return self
        if not self.labels:
            raise ValueError(f"labels: the {self.model} model needs at least one label to accept")
        if self.threshold < MIN_CHECKED_THRESHOLD:
            raise ValueError(
                f"threshold: {self.threshold} switches the language check off (text in other languages "
                f"passes); use at least {MIN_CHECKED_THRESHOLD}, another model, or `model: none` with a reason"
            )
        return self


class Filters(_Strict):
    """Length bounds, in characters after stripping whitespace."""

    min_prompt_chars: Annotated[int, Field(ge=1, le=10_000)] = 8
    max_prompt_chars: Annotated[int, Field(ge=1, le=100_000)] = 4_000
    min_answer_chars: Annotated[int, Field(ge=1, le=10_000)] = 8
    max_answer_chars: Annotated[int, Field(ge=1, le=100_000)] = 8_000
    # Jaccard similarity of character 5-grams at which a prompt counts as a near duplicate of an
    # earlier one (MinHash LSH finds candidates); null turns the check off.
    near_duplicate_threshold: Probability | None = 0.9

    @model_validator(mode="after")
    def _bounds_in_order(self) -> Filters:
        if self.min_prompt_chars > self.max_prompt_chars:
            raise ValueError("min_prompt_chars is larger than max_prompt_chars")
        if self.min_answer_chars > self.max_answer_chars:
            raise ValueError("min_answer_chars is larger than max_answer_chars")
        return self


class Endpoint(_Strict):
    """An OpenAI-compatible chat endpoint and the sampling settings sent to it."""

    model: Annotated[str, Field(min_length=1)]
    base_url: Annotated[str, Field(pattern=r"^https?://")] = HF_ROUTER_URL
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.7
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    max_new_tokens: Annotated[int, Field(ge=16, le=16_384)] = 1_024
    timeout_seconds: Annotated[int, Field(ge=1, le=3_600)] = 120
    max_retries: Annotated[int, Field(ge=0, le=20)] = 6
    # Several models behind the same endpoint and settings; `model` is the one-model shorthand.
    models: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1, max_length=8)] | None = (
        None
    )

    @model_validator(mode="after")
    def _model_or_models(self) -> Endpoint:
        if self.models is not None and "model" in self.model_fields_set:
            raise ValueError("give either `model` (one) or `models` (a list), not both")
        if self.models is not None and len(set(self.models)) != len(self.models):
            raise ValueError(f"models: each model once ({', '.join(self.models)})")
        return self

    @property
    def model_ids(self) -> list[str]:
        """Every configured model, in config order."""
        return list(self.models) if self.models is not None else [self.model]


class Generation(Endpoint):
    """The second response: the system prompt, written in the target language, asks for that language."""

    model: Annotated[str, Field(min_length=1)] = DEFAULT_GENERATOR
    system_prompt: Annotated[str, Field(min_length=10, max_length=4_000)]
    # True once a speaker of the language has read the system prompt and agrees it says what it should.
    system_prompt_reviewed: bool = False


class Judge(Endpoint):
    """The UltraFeedback judge; greedy by default so a rerun rates the same way."""

    model: Annotated[str, Field(min_length=1)] = DEFAULT_JUDGE
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.0
    max_new_tokens: Annotated[int, Field(ge=16, le=16_384)] = 1_024
    # Judge both orders ([human, LLM] and [LLM, human]); only pairs whose preference agrees are curated.
    swap: bool = False


class Curation(_Strict):
    """Which judged pairs make it into the curated DPO dataset."""

    min_margin: Annotated[int, Field(ge=1, le=4)] = 1
    allow_wrong_language_rejected: bool = False
    # An LLM answer at least this similar to the human one (Jaccard of character 5-grams) is a near
    # copy: the pair teaches nothing and is left out. Null turns the check off.
    max_copy_similarity: Probability | None = 0.9
    # With a panel of judges: the share of judges whose own ratings put the chosen answer above the
    # rejected one that a pair needs to be curated (1.0: all of them). Null curates on the panel's mean alone.
    min_judge_agreement: Annotated[float, Field(gt=0.0, le=1.0)] | None = None


class Publish(_Strict):
    """Where the datasets go: `<namespace>/aya_<name>_dpo_raw` and `<namespace>/aya_<name>_dpo`."""

    namespace: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")] = "dpo-factory"
    private: bool = True


# The shorthands croniter (Prefect's cron parser) knows, with the five fields each one stands for.
CRON_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
CRON_FIELDS = "minute hour day-of-month month day-of-week"


@functools.cache  # Prefect lists every timezone of the system to check one: 10 ms a check
def _prefect_accepts(cron: str, timezone: str | None = None) -> str:
    """The cron, when Prefect's own schedule model takes it (with this timezone); else its reason."""
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron, **({"timezone": timezone} if timezone else {}))
    except ValidationError as exc:
        raise ValueError(
            "; ".join(err["msg"].removeprefix("Value error, ") for err in exc.errors())
        ) from None
    return cron


class Schedule(_Strict):
    """When the scheduled deployment runs this language: five cron fields, or an alias like `@weekly`."""

    cron: Annotated[str, Field(min_length=1, max_length=100)]
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, cron: str) -> str:
        # croniter also takes a sixth (seconds) and seventh (year) field: a 6-field cron would
        # validate and then start at another time than the contributor meant.
        cron = cron.strip()
        if cron.startswith("@"):
            if cron not in CRON_ALIASES:
                raise ValueError(
                    f"'{cron}' is not a cron alias; use one of {', '.join(CRON_ALIASES)} or five fields "
                    f"({CRON_FIELDS})"
                )
            return cron
        fields = cron.split()
        if len(fields) != 5:
            seconds = "; croniter would read the sixth as seconds" if len(fields) == 6 else ""
            raise ValueError(
                f"'{cron}' has {len(fields)} fields; a cron has five ({CRON_FIELDS}), "
                f"e.g. '17 3 * * 2'{seconds}"
            )
        return _prefect_accepts(" ".join(fields))

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, timezone: str) -> str:
        _prefect_accepts("0 0 * * *", timezone)
        return timezone

    @property
    def five_fields(self) -> str:
        """The cron with an alias spelled out: `@weekly` is `0 0 * * 0`."""
        return CRON_ALIASES.get(self.cron, self.cron)


def namespace_problem(namespace: str) -> str | None:
    """Why `namespace` (from `--namespace` or a flow parameter) is not a valid Hub namespace, or None."""
    try:
        Publish(namespace=namespace)
    except ValidationError as exc:
        return f"--namespace '{namespace}' is not a valid Hub namespace: {exc.errors()[0]['msg']}"
    return None


class LanguageConfig(_Strict):
    """One language: which Aya rows belong to it and how to turn them into preference data."""

    code: Annotated[str, Field(pattern=r"^[a-z]{3}$")]
    name: Annotated[str, Field(min_length=2, max_length=64)]
    aya_language_codes: list[Annotated[str, Field(pattern=r"^[a-z]{3}$")]] = Field(min_length=1)
    # Aya's English names (`language` column) this config takes, on top of the code match: needed when
    # two names share a code (Simplified and Traditional Chinese are both `zho`). None takes every name.
    aya_language_names: list[Annotated[str, Field(min_length=2, max_length=64)]] | None = Field(
        default=None, min_length=1
    )
    lid: LanguageID
    filters: Filters = Filters()
    generation: Generation
    judge: Judge = Judge()
    curation: Curation = Curation()
    publish: Publish = Publish()
    schedule: Schedule | None = None
    # Community review of judged pairs (tasks/review/); none: the judge alone decides.
    review: Review | None = None
    # Runs that may try a row before it is given up (`gave_up`); `run --retry-failed` tries those again.
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 3

    def published_as(self, namespace: str | None = None, public: bool = False) -> LanguageConfig:
        """This config with the command line's `--namespace` and `--public` applied.

        `model_copy` does not validate, so the namespace is checked here, like the config field.
        """
        update: dict[str, object] = {}
        if namespace:
            problem = namespace_problem(namespace)
            if problem:
                raise ConfigError(problem)
            update["namespace"] = namespace
        if public:
            update["private"] = False
        return self.model_copy(update={"publish": self.publish.model_copy(update=update)}) if update else self

    @property
    def slug(self) -> str:
        """The name as used in repo ids, ASCII only: `Standard Arabic` -> `standard_arabic`,
        `Norwegian Bokmål` -> `norwegian_bokmal`; the code when the name has other letters."""
        return ascii_slug(self.name) or self.code

    @property
    def raw_repo(self) -> str:
        return f"{self.publish.namespace}/aya_{self.slug}_dpo_raw"

    @property
    def curated_repo(self) -> str:
        return f"{self.publish.namespace}/aya_{self.slug}_dpo"


def ascii_slug(name: str) -> str | None:
    """Lowercase ASCII words joined by `_`, accents dropped (`å` -> `a`); None when a letter has no
    ASCII form (`ø`, `ß`, any non-Latin script), so that the caller falls back to the language code.

    For the ASCII names shipped before this rule the result is unchanged, so published repo ids stay.
    """
    decomposed = unicodedata.normalize("NFKD", name.lower())
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    if any(char.isalnum() and not char.isascii() for char in stripped):
        return None
    return "_".join(re.findall(r"[a-z0-9]+", stripped)) or None


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def read_config(path: Path) -> tuple[LanguageConfig | None, list[str]]:
    """The config in one file and every problem in it, one line each, naming file and field."""
    if path.suffix != CONFIG_SUFFIX:
        return None, [f"{path}: config files end in {CONFIG_SUFFIX}; rename it to {path.stem}{CONFIG_SUFFIX}"]
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [f"{path}: cannot read: {exc.strerror}"]
    except UnicodeDecodeError:
        return None, [f"{path}: not UTF-8 text; save it as UTF-8"]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return None, [f"{path}: {explain(text, exc)}"]
    if data is None:
        return None, [f"{path}: empty file; `dpo-factory new-language {path.stem}` writes a complete one"]
    if not isinstance(data, dict):
        kind = KIND_OF.get(type(data), type(data).__name__)
        return None, [f"{path}: expected keys such as `code:` and `name:`, found {kind}"]
    try:
        config = LanguageConfig.model_validate(data)
    except ValidationError as exc:
        return None, [
            f"{path}: {_field_path(err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        ]
    if config.code != path.stem:
        return None, [f"{path}: code: '{config.code}' does not match the file name '{path.stem}'"]
    return config, []


def config_problems(path: Path) -> list[str]:
    """Every problem in one config file, one line each, naming file and field. Empty when valid."""
    return read_config(path)[1]


def load_config_file(path: Path) -> LanguageConfig:
    """Read and validate one config file; raise ConfigError with every problem on failure."""
    config, problems = read_config(path)
    if config is None:
        raise ConfigError("; ".join(problems))
    return config


def config_paths(directory: Path = LANGUAGES_DIR) -> list[Path]:
    """The config files of a folder (`*.yaml`)."""
    return sorted(directory.glob(f"*{CONFIG_SUFFIX}"))


def misnamed_paths(directory: Path = LANGUAGES_DIR) -> list[Path]:
    """Files in the folder that look like configs but are not read (`kin.yml`): each is a problem."""
    return sorted(path for suffix in REFUSED_SUFFIXES for path in directory.glob(f"*{suffix}"))


def available_languages(directory: Path = LANGUAGES_DIR) -> list[str]:
    return [path.stem for path in config_paths(directory)]


def missing_config_hint(code: str, directory: Path = LANGUAGES_DIR) -> str:
    """Why there is no config for `code` when a misnamed file is there (`kin.yml`), else empty."""
    for path in misnamed_paths(directory):
        if path.stem == code:
            return f" ({path} is not read: config files end in {CONFIG_SUFFIX}; rename it to {code}{CONFIG_SUFFIX})"
    return ""


def load_language(code: str, directory: Path = LANGUAGES_DIR) -> LanguageConfig:
    """The config for a language stem such as `nld`."""
    path = directory / f"{code}{CONFIG_SUFFIX}"
    if not path.is_file():
        known = ", ".join(available_languages(directory)) or "none"
        raise ConfigError(
            f"unknown language '{code}': no {path}{missing_config_hint(code, directory)} (configured: {known})"
        )
    return load_config_file(path)
