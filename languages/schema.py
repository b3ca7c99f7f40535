"""The schema of a language config (`languages/<code>.yaml`) and the functions that read it.

Thresholds and prompts are data, not code: every language has the same keys, checked by pydantic
with `extra="forbid"` so a typo in a key is an error, not a silently ignored setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import langcodes
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

LANGUAGES_DIR = Path(__file__).resolve().parent

# Hugging Face Inference Providers speak the OpenAI API at this address; HF_TOKEN authenticates.
HF_ROUTER_URL = "https://router.huggingface.co/v1"
DEFAULT_GENERATOR = "meta-llama/Llama-3.3-70B-Instruct"
DEFAULT_JUDGE = "meta-llama/Llama-3.3-70B-Instruct"

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class ConfigError(ValueError):
    """A language config is missing, unreadable or invalid; the message names file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The lowest threshold a checked language may use. Below it the check passes text in another
# language: on the texts of benchmarks/langid_accuracy.py, English and French prompts score up to
# about 0.1 on the labels of related or confusable languages (docs/languages.md).
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


class Publish(_Strict):
    """Where the datasets go: `<namespace>/aya_<name>_dpo_raw` and `<namespace>/aya_<name>_dpo`."""

    namespace: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")] = "dpo-factory"
    private: bool = True


class Schedule(_Strict):
    """When the scheduled deployment runs this language: a cron expression as Prefect accepts it."""

    cron: Annotated[str, Field(min_length=9, max_length=100)]
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"

    @model_validator(mode="after")
    def _prefect_accepts_it(self) -> Schedule:
        from prefect.client.schemas.schedules import CronSchedule

        try:
            CronSchedule(cron=self.cron, timezone=self.timezone)
        except ValidationError as exc:
            raise ValueError(
                "; ".join(err["msg"].removeprefix("Value error, ") for err in exc.errors())
            ) from None
        return self


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

    def published_as(self, namespace: str | None = None, public: bool = False) -> LanguageConfig:
        """This config with the command line's `--namespace` and `--public` applied."""
        update: dict[str, object] = {}
        if namespace:
            update["namespace"] = namespace
        if public:
            update["private"] = False
        return self.model_copy(update={"publish": self.publish.model_copy(update=update)}) if update else self

    @property
    def slug(self) -> str:
        """The language name as used in repo names: `Standard Arabic` -> `standard_arabic`."""
        return "_".join(self.name.lower().replace("-", " ").split())

    @property
    def raw_repo(self) -> str:
        return f"{self.publish.namespace}/aya_{self.slug}_dpo_raw"

    @property
    def curated_repo(self) -> str:
        return f"{self.publish.namespace}/aya_{self.slug}_dpo"

    @property
    def hub_language(self) -> str:
        """ISO 639-1 where one exists (`nl`), else ISO 639-3 (`swh`): what Hub card metadata uses."""
        return langcodes.get(self.code).language


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def config_problems(path: Path) -> list[str]:
    """Every problem in one config file, one line each, naming file and field. Empty when valid."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return [f"{path}: cannot read: {exc.strerror}"]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        return [f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"]
    if not isinstance(data, dict):
        return [f"{path}: expected a mapping of keys, found {type(data).__name__}"]
    try:
        config = LanguageConfig.model_validate(data)
    except ValidationError as exc:
        return [
            f"{path}: {_field_path(err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        ]
    if config.code != path.stem:
        return [f"{path}: code: '{config.code}' does not match the file name '{path.stem}'"]
    return []


def load_config_file(path: Path) -> LanguageConfig:
    """Read and validate one config file; raise ConfigError with every problem on failure."""
    problems = config_problems(path)
    if problems:
        raise ConfigError("; ".join(problems))
    return LanguageConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def config_paths(directory: Path = LANGUAGES_DIR) -> list[Path]:
    return sorted(directory.glob("*.yaml"))


def available_languages(directory: Path = LANGUAGES_DIR) -> list[str]:
    return [path.stem for path in config_paths(directory)]


def load_language(code: str, directory: Path = LANGUAGES_DIR) -> LanguageConfig:
    """The config for a language stem such as `nld`."""
    path = directory / f"{code}.yaml"
    if not path.is_file():
        known = ", ".join(available_languages(directory)) or "none"
        raise ConfigError(f"unknown language '{code}': no {path} (configured: {known})")
    return load_config_file(path)
