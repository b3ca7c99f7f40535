"""How the coverage report reads: counts, review columns, the attention list, the chart of pairs."""

from __future__ import annotations

import struct

import polars as pl

from tasks.coverage.charts import render_png, zero_summary
from tasks.coverage.dashboard import build_coverage_repo, markdown_table
from tasks.coverage.history import append_history, snapshot
from tasks.coverage.page import render_html
from tasks.coverage.report import COLUMNS
from tasks.coverage.text import attention, count, rate

BASE = {"aya_rows": 10, "configured": True, "language_checked": True, "system_prompt_reviewed": True}


def table(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame([{**BASE, **row} for row in rows], schema=COLUMNS, strict=False)


REVIEWED = table(
    {"language": "Swahili", "language_code": "swh", "config": "swh", "status": "curated", "aya_rows": 12345,
     "curated_pairs": 1200, "review_sent_pairs": 200, "human_verified_pairs": 80, "judge_human_agreement": 0.55,
     "judge_human_kappa": 0.21, "judge_human_pairs": 80, "generator_models": ["Qwen/Qwen2.5-7B-Instruct"],
     "judge_models": ["meta-llama/Llama-3.3-70B-Instruct"], "judge_failure_rate": 0.004,
     "curated_repo": "ns/aya_swahili_dpo"},
    {"language": "Dutch", "language_code": "nld", "config": "nld", "status": "curated", "curated_pairs": 30,
     "review_sent_pairs": 10, "human_verified_pairs": 10, "judge_human_agreement": 0.9, "judge_human_kappa": 0.1,
     "judge_human_pairs": 10},  # too few pairs to flag
    *({"language": f"Language {i}", "language_code": f"x{i:02d}", "config": f"x{i:02d}", "status": "configured",
       "curated_pairs": 0} for i in range(40)),
    {"language": "Tamil", "language_code": "tam", "configured": False, "status": "not configured",
     "system_prompt_reviewed": None, "language_checked": None},
)  # fmt: skip


def test_counts_and_rates_read_as_people_write_them() -> None:
    assert (count(12345), count(0), count(None)) == ("12,345", "0", "")
    assert (rate(0.004), rate(0.0), rate(0.25), rate(None)) == ("0.4%", "0%", "25%", "")


def test_attention_lists_pairs_awaiting_review_and_a_judge_people_disagree_with() -> None:
    items = attention(REVIEWED)
    assert "Pairs sent for community review and not decided yet: `swh` (120 of 200)." in items
    assert (
        "Languages where the judge agrees poorly with people (Cohen's kappa under 0.4 on 20 or more pairs): "
        "`swh` (κ 0.21 on 80 pairs)." in items
    )
    assert not any("`nld`" in item for item in items)


def test_review_columns_models_and_zero_languages_on_the_page() -> None:
    page = render_html(REVIEWED, "2026-08-20T10:00:00+00:00")
    assert "55%, κ 0.21 (80 pairs)" in page and ">12,345<" in page and ">0.4%<" in page
    assert "Qwen/Qwen2.5-7B-Instruct" in page and 'id="models"' in page
    assert page.count('class="bar"') == 2  # languages with pairs; the others behind one toggle
    assert zero_summary(REVIEWED) == [
        "40 configured languages have no pairs yet",
        "1 Aya language has no config",
    ]
    assert "<summary>40 configured languages have no pairs yet</summary>" in page
    assert "No snapshots yet" in page
    assert (
        "| Swahili | `swh` | 12,345 | curated | 1,200 | 0 | 80 | 55%, κ 0.21 (80 pairs) |"
        in markdown_table(REVIEWED)
    )


def test_the_chart_of_pairs_draws_only_languages_with_pairs() -> None:
    png = render_png(REVIEWED)
    width, height = struct.unpack(">II", png[16:24])  # the PNG header's size
    assert png.startswith(b"\x89PNG") and height < 400  # two bars, not 43


def test_the_repo_has_a_history_config_and_the_page_draws_each_snapshot() -> None:
    history, _ = append_history(
        None, snapshot(REVIEWED.with_columns(curated_pairs=0), "a", "2026-08-01T10:00:00+00:00")
    )
    history, _ = append_history(history, snapshot(REVIEWED, "b", "2026-08-20T10:00:00+00:00"))
    repo = build_coverage_repo(
        REVIEWED, "ns/dpo-language-coverage", "2026-08-20T10:00:00+00:00", "n/a", history, hub=True
    )
    assert any(path.startswith("history/train-") for path in repo.files)
    page = repo.files["dashboard.html"].decode("utf-8")
    languages = page[page.index('<svg id="history-languages"') :]
    assert languages[: languages.index("</svg>")].count('class="snapshot"') == 2
    assert 'href="https://huggingface.co/datasets/ns/aya_swahili_dpo"' in page  # on the Hub: its page
    assert "| 2026-08-20 10:00 | 2 | 1,230 | 90 |" in repo.card
