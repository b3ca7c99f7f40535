"""The coverage report as published: the table in markdown, the dataset repo (configs `default` and
`history`, card, dashboard page, chart) and the static Space that serves the dashboard.

The page is `tasks/coverage/page.py`, the charts `tasks/coverage/charts.py`, the history
`tasks/coverage/history.py`; how numbers read is `tasks/coverage/text.py`.
"""

from __future__ import annotations

import polars as pl
from huggingface_hub import SpaceCard, SpaceCardData

from tasks.coverage.charts import render_png
from tasks.coverage.history import HISTORY_DATA, progress
from tasks.coverage.page import render_html
from tasks.coverage.report import model_rows
from tasks.coverage.text import (
    agreement,
    attention,
    count,
    margin,
    minute,
    rate,
    summary_line,
    system_prompt,
    wrong_language,
)
from tasks.publish.repos import DatasetRepo, card_text, data_file, size_category

COVERAGE_DATA = "data"
MODELS_DATA = "models"
SNAPSHOTS_IN_CARD = 10


def markdown_table(coverage: pl.DataFrame) -> str:
    """The coverage table for cards and Prefect's markdown artifact."""
    header = (
        "| language | code | Aya rows | status | curated pairs | KTO rows | human-verified pairs "
        "| judge–human agreement | mean margin | wrong-language rate | judge failures | judge errors "
        "| system prompt | note |"
    )
    lines = [
        header,
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in coverage.sort("curated_pairs", "aya_rows", descending=True, nulls_last=True).iter_rows(
        named=True
    ):
        lines.append(
            f"| {r['language']} | `{r['language_code']}` | {count(r['aya_rows'])} | {r['status']} | "
            f"{count(r['curated_pairs'] or 0)} | {count(r['kto_rows'] or 0)} | "
            f"{count(r['human_verified_pairs'])} | {agreement(r)} | {margin(r['mean_margin'])} | "
            f"{wrong_language(r)} | {rate(r['judge_failure_rate'])} | {rate(r['judge_error_rate'])} | "
            f"{system_prompt(r)} | {r['note'] or ''} |"
        )
    return "\n".join(lines)


def flat(coverage: pl.DataFrame) -> pl.DataFrame:
    """The `default` table: one row per language, without the per-source list (config `models`)."""
    return coverage.drop("models", strict=False)


def history_table(history: pl.DataFrame) -> str:
    """The latest snapshots' totals, newest first, for the card."""
    drawn = progress(history)
    rows = list(zip(drawn["times"], drawn["languages"], drawn["curated_pairs"], drawn["human_verified_pairs"],
                    strict=True))[-SNAPSHOTS_IN_CARD:]  # fmt: skip
    lines = [
        "| report (UTC) | languages with curated data | curated pairs | human-verified pairs |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {minute(t)} | {n:,} | {p:,} | {v:,} |" for t, n, p, v in reversed(rows)]
    return "\n".join(lines)


def build_coverage_repo(
    coverage: pl.DataFrame,
    repo_id: str,
    generated_at: str,
    hub_note: str,
    history: pl.DataFrame | None = None,
    hub: bool = False,
) -> DatasetRepo:
    """The coverage dataset repo: config `default` (the table), config `history` (snapshots), the card,
    the dashboard page and the chart. `hub`: the page links datasets on the Hub, not under `--out`."""
    if history is None:
        history = pl.DataFrame()
    files = {"default": data_file(COVERAGE_DATA, flat(coverage))}
    if history.height:
        files["history"] = data_file(HISTORY_DATA, history)
    models = model_rows(coverage)
    if models.height:
        files["models"] = data_file(MODELS_DATA, models)
    configured = coverage.filter(pl.col("configured"))["config"].n_unique()
    needs = "\n".join(f"- {item}" for item in attention(coverage)) or "Nothing."
    snapshots = history["generated_at"].n_unique() if history.height else 0
    progress_text = (
        f"Config `history` holds one row per language for each of the {snapshots:,} reports that changed "
        f"a number, since {history['generated_at'].min()}. The latest:\n\n{history_table(history)}"
        if snapshots
        else "No snapshots yet."
    )
    body = f"""**{summary_line(coverage)}.**

One row per language of the Aya dataset (configured for dpo-factory or not), with what has been
published for it: raw rows, curated DPO pairs, KTO rows, pairs people verified in community review and
the judge's agreement with them, mean ratings and margin, the share of LLM answers in the wrong
language ("not checked" where no language-ID model knows the language), the judge failure rate
(unusable judgements), the judge error rate (failed judge requests), whether the system prompt was
reviewed by a speaker, the models (and the agreement between the judges of a panel, Krippendorff's
alpha), the last run and the dataset repos. Config `models` has one row per language and answer
source (the human Aya answer and each generator model): rated answers, mean rating, pairs it was
chosen and rejected in, chosen share, wrong-language rate and each judge's mean. Counts are read from the
published datasets. {configured} languages are configured. Generated {generated_at}. Other Hub
preference datasets per language: {hub_note}.

Open `dashboard.html` (in this repo) in a browser for progress over time, a sortable table and a
chart; it needs no network. `coverage.png` is the chart of curated pairs as an image.

## Needs attention

{needs}

## Progress

{progress_text}

## Languages

{markdown_table(coverage)}

## Load

```python
from datasets import load_dataset

coverage = load_dataset("{repo_id}", split="train")
history = load_dataset("{repo_id}", "history", split="train")  # one snapshot row per language per report
models = load_dataset("{repo_id}", "models", split="train")  # one row per language and answer source
```
"""
    metadata = {
        "license": "apache-2.0",
        "tags": ["dpo", "preference", "multilingual", "aya", "coverage"],
        "size_categories": [size_category(coverage.height)],
        "pretty_name": "DPO language coverage",
    }
    card = card_text(files, "DPO language coverage", body, **metadata)
    repo = DatasetRepo(repo_id, card, {f.path: f.content for f in files.values()})
    repo.files["dashboard.html"] = render_html(coverage, generated_at, history, hub).encode("utf-8")
    repo.files["coverage.png"] = render_png(coverage)
    return repo


def build_coverage_space(dataset: DatasetRepo, space_id: str) -> DatasetRepo:
    """A static Hugging Face Space showing the dashboard: `index.html` (the dashboard) and the chart.

    It serves the same page as the dataset's `dashboard.html`, so the report has a public web page.
    """
    data = SpaceCardData(
        title="DPO language coverage",
        emoji="🌍",
        colorFrom="green",
        colorTo="gray",
        sdk="static",
        app_file="index.html",
        pinned=False,
        license="apache-2.0",
        short_description="Which Aya languages have preference data",
    )
    card = SpaceCard(
        f"---\n{data.to_yaml()}\n---\n\n# DPO language coverage\n\nThe dashboard of "
        f"[{dataset.repo_id}](https://huggingface.co/datasets/{dataset.repo_id}): one row per Aya "
        "language with the preference data published for it, built by dpo-factory.\n"
    ).content
    files = {"index.html": dataset.files["dashboard.html"], "coverage.png": dataset.files["coverage.png"]}
    return DatasetRepo(space_id, card, files)
