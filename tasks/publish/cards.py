"""The dataset cards of the raw and curated repos: counts, quality, the recipe, Hub metadata
(language tags, license) and how to load and train on the data.

Building a repo is kept apart from writing it (`tasks/publish/destination.py`); the data files and the card's
YAML frame are in `tasks/publish/repos.py`.
"""

from __future__ import annotations

from typing import Any

import langcodes
import polars as pl

from languages.schema import LanguageConfig
from tasks.publish.licenses import DataLicense, data_license
from tasks.publish.model_card import agreement_text, models_section
from tasks.publish.repos import DPO_DATA, KTO_DATA, RAW_DATA, DatasetRepo, card_text, data_file, size_category
from tasks.publish.review_card import HUMAN_CONFIG_LINE, HUMAN_DATA, review_section
from tasks.source.load import AYA_REPO, AYA_REVISION

# The TRL version the cards' training snippets are tested with (tests/flows/test_training.py). It is
# also the pin of the test's TRL environment: tests/trl/setup.sh reads it from this line.
TRL_VERSION = "1.16.0"
# The model the training snippets name; any chat model with a chat template works.
EXAMPLE_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"

TAGS = ["dpo", "orpo", "kto", "synthetic", "distilabel", "aya", "preference", "multilingual"]


AYA_CITATION = """@misc{singh2024aya,
  title         = {Aya Dataset: An Open-Access Collection for Multilingual Instruction Tuning},
  author        = {Shivalika Singh and others},
  year          = {2024},
  eprint        = {2402.06619},
  archivePrefix = {arXiv},
  primaryClass  = {cs.CL}
}"""


def _counts_table(counts: dict[str, int], header: str) -> str:
    if not counts:
        return "_none_\n"
    lines = [f"| {header} | rows |", "| --- | ---: |"]
    lines += [f"| `{key}` | {value:,} |" for key, value in counts.items()]
    return "\n".join(lines) + "\n"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _quality_section(
    quality: dict[str, Any] | None, checked: bool = True, agreement: dict[str, Any] | None = None
) -> str:
    """Quality figures over the whole raw dataset: how far to trust these pairs.

    `checked` is false when no language-ID model knows the language: the wrong-language rate is then
    "not checked", never 0 %. `agreement` is the judges' agreement with each other (a panel).
    """
    if not quality:
        return ""
    human, llm = quality["rating_histogram"]["human"], quality["rating_histogram"]["llm"]
    consistency, margin = quality["position_consistency"], quality["mean_margin"]
    wrong = quality["wrong_language_rate"]
    lines = [
        "## Quality",
        "",
        "- LLM answers in the wrong language: "
        + (_percent(wrong) if checked and wrong is not None else "not checked" if not checked else "n/a"),
        f"- judge failures (unusable or misaligned judgements): {_percent(quality['judge_failure_rate'])}",
        "- judge errors (the judge request itself failed: timeouts, HTTP errors; retried on the next run): "
        + _percent(quality.get("judge_error_rate")),
        f"- mean rating margin of the pairs: {'n/a' if margin is None else format(margin, '.2f')}",
        f"- pairs the human answer won: {_percent(quality['human_won_share'])}",
        "- position consistency (the judge prefers the same answer in both orders): "
        + (_percent(consistency) if consistency is not None else "not measured (`judge.swap` is off)"),
        f"- agreement between the judges (Krippendorff's α, ordinal): {agreement_text(agreement)}",
        "",
        "| rating | 1 | 2 | 3 | 4 | 5 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        "| human answers | " + " | ".join(str(n) for n in human) + " |",
        "| LLM answers | " + " | ".join(str(n) for n in llm) + " |",
        "",
    ]
    return "\n".join(lines)


def language_checked(config: LanguageConfig) -> bool:
    """Whether a language-ID model checks this language (`lid.model: none` means no offline model knows it)."""
    return config.lid.checked


def _language_id_line(config: LanguageConfig) -> str:
    lid = config.lid
    if not language_checked(config):
        reason = lid.reason or "no offline language-ID model knows this language"
        return (
            f"- **Language ID**: not checked ({reason.rstrip('.')}): prompts, human answers and generated "
            "answers are not filtered by language, and no pair is dropped for its language."
        )
    labels = ", ".join(f"`{x}`" for x in lid.labels)
    return (
        f"- **Language ID**: `{lid.model}`, accepted labels {labels}, threshold {lid.threshold}, applied to\n"
        "  prompts, human answers and generated answers."
    )


def _system_prompt_status(config: LanguageConfig) -> str:
    if config.generation.system_prompt_reviewed:
        return "reviewed by a speaker of the language"
    return "not yet reviewed by a speaker of the language"


def _named(models: list[str]) -> str:
    return ", ".join(f"`{model}`" for model in models)


def _recipe_section(
    config: LanguageConfig, report: dict[str, Any], generators: list[str], judges: list[str]
) -> str:
    """The recipe; `generators` and `judges` are the models that wrote the published answers and
    ratings (read from the data, so rows of earlier runs with other models are named too)."""
    gen, judge = config.generation, config.judge
    return f"""## Recipe

- **Source**: [{AYA_REPO}](https://huggingface.co/datasets/{AYA_REPO}) at revision `{AYA_REVISION}`
  (Aya language codes: {", ".join(f"`{c}`" for c in config.aya_language_codes)}); this run read {report["source"]}.
- **Generator**: {_named(generators)} (temperature {gen.temperature}, top_p {gen.top_p},
  max_new_tokens {gen.max_new_tokens}) with distilabel `TextGeneration` and this system prompt
  ({_system_prompt_status(config)}):

  > {gen.system_prompt}

- **Judge**: {_named(judges)}{" as a panel (each rates every answer; the mean decides)" if len(judges) > 1 else ""}
  with distilabel `UltraFeedback` (aspect `overall-rating`, temperature {judge.temperature}). A judgement counts only with exactly one integer rating 1-5 per response under
  its own `#### Output for Text N` header; anything else is a judge failure and stays out of the pairs.
{_language_id_line(config)}
- **Config**: the language config this dataset was made with is in `recipe/{config.code}.yaml`.
- **Curation**: no ties, rating margin at least {config.curation.min_margin}, no chosen answer in the wrong
  language; a wrong-language rejected answer is {"allowed" if config.curation.allow_wrong_language_rejected else "dropped"};
  {"both answer orders judged, and only pairs whose preference holds in both kept" if config.judge.swap else "one answer order judged (`judge.swap` is off)"};
  a chosen answer {f"at least {config.curation.max_copy_similarity:.0%} similar to the rejected one is a near copy and left out" if config.curation.max_copy_similarity is not None else "that copies the rejected one is not checked for"};{f" at least {config.curation.min_judge_agreement:.0%} of the judges rank the chosen answer above the rejected one;" if config.curation.min_judge_agreement is not None else ""}
  prompts {f"at least {config.filters.near_duplicate_threshold:.0%} similar to an earlier one (Jaccard of character 5-grams, candidates from MinHash LSH), or one typo away from one (40 characters or more), are dropped" if config.filters.near_duplicate_threshold is not None else "are not checked for near duplicates"}.
"""


def hub_language(code: str) -> str:
    """The code the Hub's language filter uses: ISO 639-1 where one exists (`nld` -> `nl`, and for
    individual languages of a macrolanguage `arb` -> `ar`, `swh` -> `sw`, `pes` -> `fa`), else the code."""
    try:
        return langcodes.standardize_tag(code, macro=True)
    except (LookupError, ValueError):
        return code


def language_tags(config: LanguageConfig) -> list[str]:
    """Card `language:` tags: each code as the Hub filters it (`ar`), then as Aya writes it (`arb`)."""
    tags: list[str] = []
    for code in [config.code, *config.aya_language_codes]:
        for tag in (hub_language(code), code):
            if tag not in tags:
                tags.append(tag)
    return tags


def _closing(license_: DataLicense) -> str:
    """The license section and the citation that end every card."""
    return f"""{license_.section}
## Citation

This dataset is derived from the Aya dataset:

```bibtex
{AYA_CITATION}
```
"""


def _models(frame: pl.DataFrame, *columns: str) -> list[str]:
    """The distinct model names in `columns` (the data may span runs with different models)."""
    found: set[str] = set()
    for column in (c for c in columns if c in frame.columns):
        values = frame[column]
        found |= set((values.explode() if isinstance(values.dtype, pl.List) else values).drop_nulls())
    return sorted(found - {"human"})


def raw_models(raw: pl.DataFrame, report: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The generators whose answers and the judges whose ratings are in `raw`; the run's own models
    when there are none yet."""
    answered = raw.filter(pl.col("generation").is_not_null()) if raw.height else raw
    rated = raw.filter(pl.col("ratings").is_not_null()) if raw.height else raw
    return (
        _models(answered, "generation_model", "generation_models") or [report["generation_model"]],
        _models(rated, "model_name", "judge_models") or [report["judge_model"]],
    )


def _metadata(
    config: LanguageConfig, rows: int, pretty_name: str, sources: list[str], license_: DataLicense
) -> dict[str, Any]:
    return {
        "language": language_tags(config),
        **license_.metadata,
        "tags": TAGS,
        "task_categories": ["text-generation"],
        "size_categories": [size_category(rows)],
        "source_datasets": sources,
        "pretty_name": pretty_name,
    }


def build_raw_repo(config: LanguageConfig, raw: pl.DataFrame, report: dict[str, Any]) -> DatasetRepo:
    """The raw repo: every processed row with its ratings, status and failure reason."""
    files = {"default": data_file(RAW_DATA, raw)}
    generators, judges = raw_models(raw, report)
    license_ = data_license(generators, judges)
    metadata = _metadata(config, raw.height, f"Aya {config.name} preference data (raw)", [AYA_REPO], license_)
    statuses = dict(raw["status"].value_counts(sort=True).iter_rows()) if raw.height else {}
    failures = (
        dict(raw["failure_reason"].drop_nulls().value_counts(sort=True).iter_rows()) if raw.height else {}
    )
    body = f"""Every {config.name} row of the Aya dataset that passed filtering and went through the LLM stage:
the human answer (`generations[0]`), a second answer from an LLM (`generations[1]`), the judge's ratings
and rationales for both, and a `status` with a `failure_reason` for rows that could not be judged.
The curated pairs are in [{config.curated_repo}](https://huggingface.co/datasets/{config.curated_repo}).

## Counts

{raw.height:,} rows. By status:

{_counts_table(statuses, "status")}
Failures by reason (retried on the next run):

{_counts_table(failures, "reason")}
Rows dropped by the filters in the last run ({report["filter"]["rows_in"]:,} Aya rows read):

{_counts_table(report["filter"]["dropped"], "reason")}
{_recipe_section(config, report, generators, judges)}
## Load

```python
from datasets import load_dataset

raw = load_dataset("{config.raw_repo}", split="train")
```

{_closing(license_)}"""
    card = card_text(files, f"Aya {config.name} DPO (raw)", body, **metadata)
    return DatasetRepo(config.raw_repo, card, {f.path: f.content for f in files.values()})


def _training_section(repo_id: str) -> str:
    """How to load the curated data and train on it with TRL: each snippet runs as written with
    `TRL_VERSION` (tests/flows/test_training.py runs them against a local copy of the repo)."""
    return f"""## Load and train

```python
from datasets import load_dataset

pairs = load_dataset("{repo_id}", "default", split="train")
unpaired = load_dataset("{repo_id}", "kto", split="train")
```

Both configs are conversations, so TRL applies the model's chat template. `default` is TRL's
conversational preference format with an explicit prompt; `kto` is its conversational unpaired
format. The other columns (`id`, ratings, models, `preference_source`) are ignored by the trainers.
The snippets below are tested with TRL {TRL_VERSION}. TRL's configs train in bf16 by default: on a machine
without a GPU, add `use_cpu=True` to the config.

DPO on the pairs:

```python
from datasets import load_dataset
from trl import DPOConfig, DPOTrainer

model_id = "{EXAMPLE_MODEL}"  # any chat model
pairs = load_dataset("{repo_id}", "default", split="train")
args = DPOConfig(output_dir="dpo")  # no GPU: DPOConfig(output_dir="dpo", use_cpu=True)
trainer = DPOTrainer(model=model_id, args=args, train_dataset=pairs)
trainer.train()
```

ORPO on the same pairs (ORPO is in `trl.experimental.orpo`; `from trl import ORPOTrainer` no longer works):

```python
from datasets import load_dataset
from trl.experimental.orpo import ORPOConfig, ORPOTrainer

model_id = "{EXAMPLE_MODEL}"  # any chat model
pairs = load_dataset("{repo_id}", "default", split="train")
args = ORPOConfig(output_dir="orpo")  # no GPU: ORPOConfig(output_dir="orpo", use_cpu=True)
trainer = ORPOTrainer(model=model_id, args=args, train_dataset=pairs)
trainer.train()
```

KTO on the unpaired rows. KTOTrainer pairs each row with a neighbour's completion for its KL term
(within each batch, in dataset order); the rows are ordered so that no row meets the other answer to
its own prompt there, at any even `per_device_train_batch_size` (given two pairs or more). Train on
them in the order given.

```python
from datasets import load_dataset
from trl import KTOConfig, KTOTrainer

model_id = "{EXAMPLE_MODEL}"  # any chat model
unpaired = load_dataset("{repo_id}", "kto", split="train")
args = KTOConfig(output_dir="kto")  # no GPU: KTOConfig(output_dir="kto", use_cpu=True)
trainer = KTOTrainer(model=model_id, args=args, train_dataset=unpaired)
trainer.train()
```
"""


def build_curated_repo(
    config: LanguageConfig,
    dpo: pl.DataFrame,
    kto: pl.DataFrame,
    curation: dict[str, int],
    report: dict[str, Any],
    judges: list[str] | None = None,
    human: pl.DataFrame | None = None,
) -> DatasetRepo:
    """The curated repo: config `default` holds DPO pairs, config `kto` the unpaired view, and with
    community review config `human` the pairs people decided.

    `judges` are the models whose ratings chose the pairs (from the raw rows; default: the run's judge).
    """
    files = {"default": data_file(DPO_DATA, dpo), "kto": data_file(KTO_DATA, kto)}
    if human is not None:
        files["human"] = data_file(HUMAN_DATA, human)
    generators = _models(dpo, "chosen_model", "rejected_model") or [report["generation_model"]]
    judges = judges or [report["judge_model"]]
    # Which answer won comes from the judge's ratings, so the judge's terms count here too.
    license_ = data_license(generators, judges, "ratings (which answer is chosen)")
    metadata = _metadata(config, dpo.height, f"Aya {config.name} DPO", [AYA_REPO, config.raw_repo], license_)
    mean_chosen = dpo["chosen_rating"].mean() if dpo.height else None
    mean_margin = (dpo["chosen_rating"] - dpo["rejected_rating"]).mean() if dpo.height else None
    human_won = int((dpo["chosen_model"] == "human").sum()) if dpo.height else 0
    stats = (
        f"Mean chosen rating {mean_chosen:.2f}, mean margin {mean_margin:.2f}; the human answer won "
        f"{human_won:,} of {dpo.height:,} pairs."
        if dpo.height
        else "No pairs yet."
    )
    body = f"""Preference pairs in {config.name} built from the Aya dataset: the prompt, the human answer and one
answer per generator model, rated by an UltraFeedback judge (or a panel of judges, whose mean rating
decides); each pair is the best-rated answer against the worst-rated one. Config `default` has DPO/ORPO pairs in TRL's
conversational preference format: `prompt` (the user's turn), `chosen` and `rejected` (the assistant's
answer only), each a chat message list. Config `kto` has the same data as unpaired rows in TRL's
conversational format: `prompt`, `completion` (the assistant's answer) and `label` (true for the answer
that won).{HUMAN_CONFIG_LINE if human is not None else ""} Every row, including the ones left out here, is in
[{config.raw_repo}](https://huggingface.co/datasets/{config.raw_repo}).

## Counts

{dpo.height:,} pairs and {kto.height:,} KTO rows. {stats}

Raw rows not curated, by reason:

{_counts_table(curation, "reason")}
{_quality_section(report.get("quality"), language_checked(config), report.get("judge_agreement"))}
{models_section(report.get("models"), report.get("judge_agreement"), language_checked(config), report.get("generator_models"))}
Aya rows dropped by the filters in the last run ({report["filter"]["rows_in"]:,} read):

{_counts_table(report["filter"]["dropped"], "reason")}
{review_section(config, report.get("human_review"))}
{_recipe_section(config, report, generators, judges)}
{_training_section(config.curated_repo)}
{_closing(license_)}"""
    card = card_text(files, f"Aya {config.name} DPO", body, **metadata)
    return DatasetRepo(config.curated_repo, card, {f.path: f.content for f in files.values()})
