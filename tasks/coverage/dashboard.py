"""The coverage report as people see it: the table in markdown, a PNG chart, a self-contained HTML
dashboard, the dataset repo that holds them, and the static Space that serves the dashboard."""

from __future__ import annotations

import html
import io
import json
from typing import Any

import polars as pl
from huggingface_hub import SpaceCard, SpaceCardData

from tasks.publish.repos import DatasetRepo, card_text, data_file, size_category

COVERAGE_DATA = "data"
STATUS_COLOURS = {"curated": "#2e7d32", "configured": "#f9a825", "not configured": "#9e9e9e"}


def summary_line(coverage: pl.DataFrame) -> str:
    aya = coverage.filter(pl.col("aya_rows") > 0)
    with_pairs = int((aya["curated_pairs"].fill_null(0) > 0).sum())
    return f"{with_pairs} of {aya.height} Aya languages have curated preference data"


def _wrong_language(row: dict[str, Any]) -> str:
    if row["language_checked"] is False:
        return "not checked"
    return "" if row["wrong_language_rate"] is None else f"{row['wrong_language_rate']:.0%}"


def _system_prompt(row: dict[str, Any]) -> str:
    if row["system_prompt_reviewed"] is None:
        return ""
    return "reviewed" if row["system_prompt_reviewed"] else "awaits review"


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def markdown_table(coverage: pl.DataFrame) -> str:
    """The coverage table for cards and Prefect's markdown artifact."""
    header = (
        "| language | code | Aya rows | status | curated pairs | KTO rows | mean margin | wrong-language rate "
        "| judge failures | judge errors | system prompt | note |"
    )
    lines = [header, "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for r in coverage.sort("curated_pairs", "aya_rows", descending=True, nulls_last=True).iter_rows(
        named=True
    ):
        margin = "" if r["mean_margin"] is None else f"{r['mean_margin']:.2f}"
        lines.append(
            f"| {r['language']} | `{r['language_code']}` | {r['aya_rows']:,} | {r['status']} | "
            f"{r['curated_pairs'] or 0:,} | {r['kto_rows'] or 0:,} | {margin} | {_wrong_language(r)} | "
            f"{_rate(r['judge_failure_rate'])} | {_rate(r['judge_error_rate'])} | {_system_prompt(r)} | "
            f"{r['note'] or ''} |"
        )
    return "\n".join(lines)


def attention(coverage: pl.DataFrame) -> list[str]:
    """What a maintainer should look at: unreviewed system prompts, unchecked languages, unmatched configs."""
    configured = coverage.filter(pl.col("configured"))

    def configs(where: pl.Expr) -> str:
        return ", ".join(f"`{c}`" for c in sorted(set(configured.filter(where)["config"])))

    items = []
    if waiting := configs(~pl.col("system_prompt_reviewed")):
        items.append(f"System prompts awaiting a speaker's review: {waiting}.")
    if unchecked := configs(~pl.col("language_checked")):
        items.append(
            f"Languages whose answers are not checked by language ID (no model knows them): {unchecked}."
        )
    if unmatched := configs(pl.col("note").is_not_null()):
        items.append(f"Configs with Aya codes that match no row of this source: {unmatched}.")
    return items


def render_png(coverage: pl.DataFrame) -> bytes:
    """A bar chart of curated pairs per language, coloured by status."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    shown = coverage.filter(pl.col("configured") | (pl.col("curated_pairs").fill_null(0) > 0))
    shown = shown.sort("curated_pairs", nulls_last=True)
    height = max(2.5, 0.32 * shown.height + 1.2)
    figure, axes = plt.subplots(figsize=(8, height), dpi=110)
    labels = [f"{r['language']} ({r['language_code']})" for r in shown.iter_rows(named=True)]
    values = shown["curated_pairs"].fill_null(0).to_list()
    colours = [STATUS_COLOURS[s] for s in shown["status"]]
    axes.barh(labels, values, color=colours)
    axes.set_xlabel("curated preference pairs")
    axes.set_title(summary_line(coverage))
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def render_html(coverage: pl.DataFrame, generated_at: str) -> str:
    """A self-contained dashboard: summary, bar chart (inline SVG) and a sortable table. No network."""
    ordered = coverage.sort("curated_pairs", "aya_rows", descending=True, nulls_last=True)
    most = max(ordered["curated_pairs"].fill_null(0).max() or 0, 1)
    charted = ordered.filter(pl.col("configured") | (pl.col("curated_pairs").fill_null(0) > 0))
    bars = []
    for i, r in enumerate(charted.iter_rows(named=True)):
        width = 360 * (r["curated_pairs"] or 0) / most
        y = 22 * i
        bars.append(
            f'<text x="200" y="{y + 15}" text-anchor="end">{html.escape(r["language"])}</text>'
            f'<rect x="208" y="{y + 3}" width="{width:.1f}" height="16" fill="{STATUS_COLOURS[r["status"]]}"/>'
            f'<text x="{214 + width:.1f}" y="{y + 15}">{r["curated_pairs"] or 0:,}</text>'
        )
    columns = [
        ("language", "language"), ("language_code", "code"), ("aya_rows", "Aya rows"), ("status", "status"),
        ("raw_rows", "raw rows"), ("curated_pairs", "curated pairs"), ("kto_rows", "KTO rows"),
        ("mean_margin", "mean margin"), ("wrong_language_rate", "wrong-language rate"),
        ("judge_failure_rate", "judge failure rate"), ("judge_error_rate", "judge error rate"),
        ("system_prompt_reviewed", "system prompt"), ("last_run", "last run"), ("curated_repo", "dataset"),
        ("note", "note"),
    ]  # fmt: skip
    head = "".join(f'<th data-col="{i}">{html.escape(title)}</th>' for i, (_, title) in enumerate(columns))
    body = []
    for r in ordered.iter_rows(named=True):
        cells = []
        for key, _ in columns:
            value = r[key]
            if key == "wrong_language_rate" and r["language_checked"] is False:
                shown = "not checked"
            elif key == "system_prompt_reviewed":
                shown = _system_prompt(r)
            elif isinstance(value, float):
                shown = f"{value:.0%}" if key.endswith("_rate") else f"{value:.2f}"
            else:
                shown = "" if value is None else f"{value:,}" if isinstance(value, int) else str(value)
            sort_key = "" if value is None else value
            style = f' style="color:{STATUS_COLOURS[value]}"' if key == "status" else ""
            cells.append(
                f"<td data-sort='{html.escape(json.dumps(sort_key))}'{style}>{html.escape(shown)}</td>"
            )
        body.append(f'<tr class="{r["status"].replace(" ", "-")}">{"".join(cells)}</tr>')
    return _PAGE.format(
        summary=html.escape(summary_line(coverage)),
        generated_at=html.escape(generated_at),
        svg_height=22 * max(charted.height, 1),
        bars="".join(bars),
        head=head,
        body="\n".join(body),
    )


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>DPO language coverage</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #212121; }}
h1 {{ font-size: 1.4rem; margin-bottom: 0.2rem; }}
p.meta {{ color: #616161; margin-top: 0; }}
svg text {{ font-size: 12px; }}
table {{ border-collapse: collapse; margin-top: 1.5rem; font-size: 13px; }}
th, td {{ border-bottom: 1px solid #e0e0e0; padding: 4px 10px; text-align: left; }}
th {{ cursor: pointer; background: #fafafa; position: sticky; top: 0; }}
th:hover {{ background: #eeeeee; }}
.legend span {{ display: inline-block; margin-right: 1rem; }}
.legend i {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; }}
</style>
</head>
<body>
<h1 id="summary">{summary}</h1>
<p class="meta">Generated {generated_at} by dpo-factory. Click a column header to sort.</p>
<p class="legend"><span><i style="background:#2e7d32"></i>curated data</span>
<span><i style="background:#f9a825"></i>configured, no pairs yet</span>
<span><i style="background:#9e9e9e"></i>not configured</span></p>
<svg width="720" height="{svg_height}" role="img" aria-label="curated pairs per language">{bars}</svg>
<table id="coverage">
<thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody>
</table>
<script>
document.querySelectorAll("#coverage th").forEach(function (th) {{
  th.addEventListener("click", function () {{
    var col = Number(th.dataset.col), body = document.querySelector("#coverage tbody");
    var rows = Array.from(body.rows), up = th.dataset.dir !== "asc";
    th.dataset.dir = up ? "asc" : "desc";
    rows.sort(function (a, b) {{
      var x = JSON.parse(a.cells[col].dataset.sort || '""'), y = JSON.parse(b.cells[col].dataset.sort || '""');
      if (x === y) return 0;
      if (x === "") return 1;
      if (y === "") return -1;
      return (x < y ? -1 : 1) * (up ? 1 : -1);
    }});
    rows.forEach(function (row) {{ body.appendChild(row); }});
  }});
}});
</script>
</body>
</html>
"""


def build_coverage_repo(
    coverage: pl.DataFrame, repo_id: str, generated_at: str, hub_note: str
) -> DatasetRepo:
    """The coverage dataset repo: table, card, dashboard page and chart."""
    files = {"default": data_file(COVERAGE_DATA, coverage)}
    configured = coverage.filter(pl.col("configured"))["config"].n_unique()
    needs = "\n".join(f"- {item}" for item in attention(coverage)) or "Nothing."
    body = f"""**{summary_line(coverage)}.**

One row per language of the Aya dataset (configured for dpo-factory or not), with what has been
published for it: raw rows, curated DPO pairs, KTO rows, mean ratings and margin, the share of LLM
answers in the wrong language ("not checked" where no language-ID model knows the language), the
judge failure rate (unusable judgements), the judge error rate (failed judge requests), whether the
system prompt was reviewed by a speaker, the last run and the dataset repos. Counts are read from the
published datasets. {configured} languages are configured. Generated {generated_at}. Other Hub
preference datasets per language: {hub_note}.

Open `dashboard.html` (in this repo) in a browser for a sortable table and a chart; it needs no
network. `coverage.png` is the chart as an image.

## Needs attention

{needs}

## Languages

{markdown_table(coverage)}

## Load

```python
from datasets import load_dataset

coverage = load_dataset("{repo_id}", split="train")
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
    repo.files["dashboard.html"] = render_html(coverage, generated_at).encode("utf-8")
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
