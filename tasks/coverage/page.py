"""The dashboard page: one self-contained HTML file (inline CSS, SVG and a few lines of script; nothing
fetched), readable from a phone to a laptop. Wide tables scroll inside their own box, never the page."""

from __future__ import annotations

import html
import json
from typing import Any

import polars as pl

from tasks.coverage.charts import history_svg, legend, zero_groups
from tasks.coverage.history import progress
from tasks.coverage.report import model_rows
from tasks.coverage.text import (
    HAS_PAIRS,
    STATUS_SYMBOLS,
    STATUS_WORDS,
    agreement,
    attention_items,
    count,
    judge_means,
    margin,
    minute,
    models,
    rate,
    rating,
    summary_line,
    system_prompt,
    wrong_language,
)

LINES_SHOWN = 8  # languages drawn in the pairs-over-time chart; the table has every one
# (column, header, how the cell reads, whether it is a number)
COLUMNS = [
    ("language", "language", None, False),
    ("language_code", "code", None, False),
    ("aya_rows", "Aya rows", None, True),
    ("status", "status", None, False),
    ("raw_rows", "raw rows", None, True),
    ("judged_rows", "judged rows", None, True),
    ("curated_pairs", "curated pairs", None, True),
    ("kto_rows", "KTO rows", None, True),
    ("human_verified_pairs", "human-verified pairs", None, True),
    ("judge_human_agreement", "judge–human agreement", agreement, True),
    ("mean_margin", "mean margin", lambda r: margin(r["mean_margin"]), True),
    ("wrong_language_rate", "wrong-language rate", wrong_language, True),
    ("judge_failure_rate", "judge failure rate", lambda r: rate(r["judge_failure_rate"]), True),
    ("judge_error_rate", "judge error rate", lambda r: rate(r["judge_error_rate"]), True),
    ("system_prompt_reviewed", "system prompt", system_prompt, False),
    ("last_run", "last run", lambda r: (r["last_run"] or "")[:10], False),
    ("curated_repo", "dataset", None, False),
    ("note", "note", None, False),
]


def dataset_link(repo_id: str, hub: bool) -> str:
    """The Hub page of a dataset, or its card in the `--out` folder (next to the report's own repo)."""
    return f"https://huggingface.co/datasets/{repo_id}" if hub else f"../../{repo_id}/README.md"


def _cell(row: dict[str, Any], key: str, shown_as: Any, number: bool, hub: bool) -> str:
    value = row[key]
    sort = "" if value is None else value
    classes = ["num"] if number else []
    if shown_as is not None:
        inner = html.escape(shown_as(row))
    elif key == "status":
        inner = f"{STATUS_SYMBOLS[value]} {html.escape(value)}"
        classes.append(f"status-{value.replace(' ', '-')}")
    elif key == "curated_repo" and value:
        inner = f'<a href="{html.escape(dataset_link(value, hub))}">{html.escape(value)}</a>'
    elif isinstance(value, int) and not isinstance(value, bool):
        inner = count(value)
    else:
        inner = html.escape("" if value is None else str(value))
    if key == "note":
        classes.append("note")
    title = f' title="{html.escape(value)}"' if key == "last_run" and value else ""
    attrs = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td data-sort='{html.escape(json.dumps(sort))}'{attrs}{title}>{inner}</td>"


def _table(coverage: pl.DataFrame, hub: bool) -> str:
    head = "".join(
        f'<th data-col="{i}"{" class=num" if number else ""}>{html.escape(title)}</th>'
        for i, (_, title, _, number) in enumerate(COLUMNS)
    )
    body = "\n".join(
        f'<tr class="{r["status"].replace(" ", "-")}">'
        + "".join(_cell(r, key, shown_as, number, hub) for key, _, shown_as, number in COLUMNS)
        + "</tr>"
        for r in coverage.iter_rows(named=True)
    )
    return f'<table id="coverage"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def _names(frame: pl.DataFrame) -> str:
    return ", ".join(
        f"{html.escape(r['language'])} <code>{html.escape(r['language_code'])}</code>"
        for r in frame.iter_rows(named=True)
    )


def _bars(coverage: pl.DataFrame) -> str:
    shown = coverage.filter(HAS_PAIRS).sort("curated_pairs", "language", descending=[True, False])
    most = max(shown["curated_pairs"].max() or 0, 1) if shown.height else 1
    rows = "".join(
        f'<span class="name">{html.escape(r["language"])} <code>{html.escape(r["language_code"])}</code></span>'
        f'<span class="track"><span class="bar" style="width:{100 * r["curated_pairs"] / most:.1f}%"></span></span>'
        f'<span class="num">{count(r["curated_pairs"])}</span>'
        for r in shown.iter_rows(named=True)
    )  # fmt: skip
    bars = (
        f'<div class="bars" id="pairs-bars">{rows}</div>' if shown.height else "<p>No curated pairs yet.</p>"
    )
    groups = "".join(
        f'<details class="zero"><summary>{html.escape(line)}</summary><p>{_names(frame)}</p></details>'
        for line, frame in zero_groups(coverage)
    )
    return bars + groups


def _attention(coverage: pl.DataFrame) -> str:
    items = []
    for item in attention_items(coverage):
        names = ", ".join(
            f"<code>{html.escape(name)}</code>" + (f" ({html.escape(detail)})" if detail else "")
            for name, detail in item.entries
        )
        if len(item.entries) > 8:  # a long list of codes is behind a toggle, its length in front
            head = f"{html.escape(item.title)}: {len(item.entries):,}"
            items.append(f"<li><details><summary>{head}</summary><p>{names}</p></details></li>")
        else:
            items.append(f"<li>{html.escape(item.title)}: {names}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else "<p>Nothing.</p>"


def _progress(history: pl.DataFrame | None, generated_at: str) -> str:
    if history is None or history.height == 0:
        return "<p>No snapshots yet: the first report starts the history.</p>"
    drawn = progress(history)
    times = drawn["times"]
    lines = drawn["pairs"][:LINES_SHOWN]
    more = len(drawn["pairs"]) - len(lines)
    languages = history_svg(
        "history-languages",
        "Aya languages with curated data over time",
        times,
        [("Aya languages with curated data", drawn["languages"])],
        generated_at,
    )
    pairs = history_svg("history-pairs", "Curated pairs per language over time", times,
                        lines or [("no language", [0] * len(times))], generated_at)  # fmt: skip
    note = f"<p class=meta>And {more:,} more languages with pairs: see the table.</p>" if more else ""
    single = len(times) == 1
    rows = "".join(
        f"<tr><td>{html.escape(minute(t))}</td><td class=num>{count(n)}</td>"
        f"<td class=num>{count(p)}</td><td class=num>{count(v)}</td></tr>"
        for t, n, p, v in reversed(list(zip(times, drawn["languages"], drawn["curated_pairs"],
                                            drawn["human_verified_pairs"], strict=True)))
    )  # fmt: skip
    return f"""<p class="meta">{len(times):,} snapshot{"s" * (not single)}{
        " so far: the lines grow with every report that changes a number" if single else ""
    } (UTC; a report that changes nothing adds none).</p>
<div class="charts">
<figure><figcaption>Aya languages with curated data</figcaption><div class="chart">{languages}</div></figure>
<figure><figcaption>Curated pairs per language</figcaption><div class="chart">{pairs}</div>
{legend(lines)}{note}</figure>
</div>
<details><summary>Snapshots as a table</summary><div class="scroll"><table id="snapshots"><thead><tr><th>report (UTC)</th>
<th class=num>languages with curated data</th><th class=num>curated pairs</th>
<th class=num>human-verified pairs</th></tr></thead><tbody>{rows}</tbody></table></div></details>"""


def _models(coverage: pl.DataFrame) -> str:
    """The models per language, the judges' agreement where a panel judged, then config `models`:
    each answer source's figures per language."""
    used = coverage.filter(pl.col("generator_models").is_not_null() | pl.col("judge_models").is_not_null())
    if used.height == 0:
        return "<p>No language has published rows yet.</p>"
    panel = used["judge_alpha"].is_not_null().any()  # the column only when a panel judged somewhere
    alpha = "<th class=num>judges' agreement (α)</th>" if panel else ""
    rows = "".join(
        f"<tr><td>{html.escape(r['language'])}</td><td><code>{html.escape(r['language_code'])}</code></td>"
        f"<td class=num>{count(r['curated_pairs'])}</td><td>{html.escape(models(r['generator_models']))}</td>"
        f"<td>{html.escape(models(r['judge_models']))}</td>"
        + (
            f"<td class=num>{'' if r['judge_alpha'] is None else format(r['judge_alpha'], '.2f')}</td>"
            * panel
        )
        + "</tr>"
        for r in used.sort("language", "language_code").iter_rows(named=True)
    )
    return (
        '<div class="scroll"><table id="models"><thead><tr><th>language</th><th>code</th>'
        f"<th class=num>curated pairs</th><th>generator models</th><th>judge models</th>{alpha}</tr></thead>"
        f"<tbody>{rows}</tbody></table></div>{_sources(coverage)}"
    )


def _sources(coverage: pl.DataFrame) -> str:
    """Config `models` as a table: a row per language and answer source."""
    sources = model_rows(coverage)
    if sources.height == 0:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(r['language'])} <code>{html.escape(r['language_code'])}</code></td>"
        f"<td>{html.escape(r['source'])}</td><td class=num>{count(r['answers'])}</td>"
        f"<td class=num>{rating(r['mean_rating'])}</td><td class=num>{count(r['chosen'])}</td>"
        f"<td class=num>{count(r['rejected'])}</td><td class=num>{rate(r['chosen_share'])}</td>"
        f"<td class=num>{rate(r['wrong_language_rate'])}</td>"
        f"<td>{html.escape(judge_means(r['judge_mean_ratings']))}</td></tr>"
        for r in sources.iter_rows(named=True)
    )
    return (
        "<h3>Answer sources per language</h3><p class=meta>Config <code>models</code>: the human Aya "
        "answer and each generator model, with their mean rating (1-5, judged rows), the curated pairs "
        "they were chosen and rejected in, and the share of their checked answers in the wrong language."
        '</p><div class="scroll tall"><table id="sources"><thead><tr><th>language</th><th>source</th>'
        "<th class=num>rated answers</th><th class=num>mean rating</th><th class=num>chosen</th>"
        "<th class=num>rejected</th><th class=num>chosen share</th><th class=num>wrong language</th>"
        f"<th>each judge's mean</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def render_html(
    coverage: pl.DataFrame, generated_at: str, history: pl.DataFrame | None = None, hub: bool = False
) -> str:
    """The dashboard: summary, what needs attention, progress over time, pairs per language, the full
    table (sortable) and the models per language. `hub`: dataset links go to the Hub, not `--out`."""
    ordered = coverage.sort("curated_pairs", "aya_rows", descending=True, nulls_last=True)
    aya = coverage.filter(pl.col("aya_rows") > 0)
    tiles = [
        (f"{aya.filter(HAS_PAIRS).height:,} of {aya.height:,}", "Aya languages with curated data"),
        (count(int(coverage["curated_pairs"].fill_null(0).sum())), "curated pairs"),
        (count(int(coverage["human_verified_pairs"].fill_null(0).sum())), "human-verified pairs"),
        (count(coverage.filter(pl.col("configured"))["config"].n_unique()), "configured languages"),
    ]
    key = "".join(
        f'<span class="status-{status.replace(" ", "-")}">{symbol} {html.escape(STATUS_WORDS[status])}</span>'
        for status, symbol in STATUS_SYMBOLS.items()
    )
    return _PAGE.format(
        summary=html.escape(summary_line(coverage)),
        generated_at=html.escape(generated_at),
        tiles="".join(f"<div class=tile><b>{value}</b>{html.escape(label)}</div>" for value, label in tiles),
        attention=_attention(coverage),
        progress=_progress(history, generated_at),
        bars=_bars(coverage),
        key=key,
        table=_table(ordered, hub),
        models=_models(coverage),
    )


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DPO language coverage</title>
<style>
*, *::before, *::after {{ box-sizing: border-box; }}
body {{ font-family: system-ui, sans-serif; margin: 0; color: #212121; line-height: 1.45; overflow-wrap: anywhere; }}
main {{ max-width: 76rem; margin: 0 auto; padding: 1.5rem 2rem 3rem; }}
@media (max-width: 40rem) {{ main {{ padding: 1rem 0.75rem 2rem; }} }}
h1 {{ font-size: 1.45rem; margin: 0 0 0.2rem; }}
h2 {{ font-size: 1.1rem; margin: 2rem 0 0.6rem; }}
h3 {{ font-size: 1rem; margin: 1.5rem 0 0.4rem; }}
.meta {{ color: #616161; margin-top: 0; font-size: 0.9rem; }}
code {{ font-size: 0.85em; color: #37474f; }}
.tiles {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 11rem), 1fr)); gap: 0.75rem; }}
.tile {{ border: 1px solid #e0e0e0; border-radius: 6px; padding: 0.6rem 0.8rem; }}
.tile b {{ display: block; font-size: 1.5rem; font-variant-numeric: tabular-nums; }}
#attention li {{ margin-bottom: 0.3rem; }}
.charts {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 28rem), 1fr)); gap: 1.5rem; }}
figure {{ margin: 0; min-width: 0; }}
figcaption {{ font-weight: 600; margin-bottom: 0.3rem; }}
.chart {{ overflow-x: auto; }}
svg.history {{ display: block; width: 100%; min-width: 18rem; height: auto; }}
svg.history text {{ font-size: 12px; fill: #424242; }}
svg.history .grid {{ stroke: #e0e0e0; }}
svg.history polyline {{ fill: none; stroke-width: 2; }}
.key {{ list-style: none; padding: 0; margin: 0.4rem 0; display: flex; flex-wrap: wrap; gap: 0.2rem 1rem; font-size: 0.85rem; }}
.key svg {{ margin-right: 0.3rem; vertical-align: middle; }}
.bars {{ display: grid; grid-template-columns: minmax(0, min(13rem, 40%)) minmax(0, 1fr) auto; gap: 4px 0.6rem; align-items: center; }}
.bars .name {{ white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
.bars .track {{ display: block; }}
.bars .bar {{ display: block; height: 14px; min-width: 2px; background: #1b7837; border-radius: 2px; }}
details {{ margin: 0.6rem 0; }}
summary {{ cursor: pointer; }}
.legend {{ display: flex; flex-wrap: wrap; gap: 0.2rem 1.2rem; font-size: 0.9rem; }}
.status-curated {{ color: #1b7837; }}
.status-configured {{ color: #b35806; }}
.status-not-configured {{ color: #616161; }}
.scroll {{ overflow: auto; width: fit-content; max-width: 100%; border: 1px solid #e0e0e0; border-radius: 6px; }}
@media (min-width: 40rem) {{ .scroll.tall {{ max-height: 80vh; }} }}
table {{ border-collapse: collapse; font-size: 13px; }}
th, td {{ padding: 4px 10px; border-bottom: 1px solid #eeeeee; text-align: left; vertical-align: top;
  white-space: nowrap; overflow-wrap: normal; }}
td.note {{ white-space: normal; min-width: 24rem; }}
.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
th {{ background: #fafafa; position: sticky; top: 0; z-index: 1; }}
#coverage th {{ cursor: pointer; }}
#coverage th:hover {{ background: #eeeeee; }}
#coverage td:first-child, #coverage th:first-child {{ position: sticky; left: 0; background: #ffffff; z-index: 1; }}
#coverage th:first-child {{ background: #fafafa; z-index: 2; }}
</style>
</head>
<body>
<main>
<h1 id="summary">{summary}</h1>
<p class="meta">Generated {generated_at} by dpo-factory. Counts are read from the published datasets.</p>
<div class="tiles">{tiles}</div>
<section id="attention"><h2>Needs attention</h2>{attention}</section>
<section id="progress"><h2>Progress over time</h2>{progress}</section>
<section id="pairs"><h2>Curated pairs per language</h2>{bars}</section>
<section id="languages"><h2>All languages</h2>
<p class="legend">{key}</p>
<p class="meta">Click a column header to sort. The table scrolls sideways inside its box.</p>
<div class="scroll tall">{table}</div></section>
<section id="models-per-language"><h2>Models per language</h2>
<p class="meta">The generator and judge models named in each language's published raw rows, and
the agreement between the judges of a panel (Krippendorff's α, ordinal).</p>
{models}</section>
</main>
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
