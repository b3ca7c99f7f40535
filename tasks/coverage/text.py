"""How the coverage report reads: counts, rates and statuses as text, the summary line, and the
"needs attention" list. Shared by the card (markdown), the dashboard page and the chart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

# Status colours come with a symbol and the status's words everywhere, so they read without colour.
STATUS_COLOURS = {"curated": "#1b7837", "configured": "#b35806", "not configured": "#757575"}
STATUS_SYMBOLS = {"curated": "●", "configured": "◐", "not configured": "○"}
STATUS_WORDS = {
    "curated": "curated data",
    "configured": "configured, no pairs yet",
    "not configured": "not configured",
}
# Judge-human agreement worth a look: Cohen's kappa under "moderate" (Landis and Koch), on enough pairs
# that a few votes do not decide it.
LOW_KAPPA = 0.4
MIN_KAPPA_PAIRS = 20


HAS_PAIRS = pl.col("curated_pairs").fill_null(0) > 0


def summary_line(coverage: pl.DataFrame) -> str:
    aya = coverage.filter(pl.col("aya_rows") > 0)
    with_pairs = aya.filter(HAS_PAIRS).height
    return f"{with_pairs} of {aya.height} Aya languages have curated preference data"


def count(value: int | None) -> str:
    """`12,345`; an empty cell for a count that was not taken."""
    return "" if value is None else f"{value:,}"


def rate(value: float | None) -> str:
    """A share as a percentage: whole percents, one decimal under 10 % so 0.4 % is not shown as 0 %."""
    if value is None:
        return ""
    return f"{value:.1%}" if 0 < value < 0.1 else f"{value:.0%}"


def wrong_language(row: dict[str, Any]) -> str:
    return "not checked" if row["language_checked"] is False else rate(row["wrong_language_rate"])


def system_prompt(row: dict[str, Any]) -> str:
    if row["system_prompt_reviewed"] is None:
        return ""
    return "reviewed" if row["system_prompt_reviewed"] else "awaits review"


def agreement(row: dict[str, Any]) -> str:
    """Judge-human agreement: the share of decided pairs where the judge chose as people did, and kappa."""
    if row["judge_human_agreement"] is None:
        return ""
    kappa = "" if row["judge_human_kappa"] is None else f", κ {row['judge_human_kappa']:.2f}"
    return f"{rate(row['judge_human_agreement'])}{kappa} ({count(row['judge_human_pairs'])} pairs)"


def minute(iso: str) -> str:
    """A report time to the minute: `2026-08-01 10:00` (the times are UTC)."""
    return iso[:16].replace("T", " ")


def margin(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def models(names: list[str] | None) -> str:
    return ", ".join(names or [])


def rating(value: float | None) -> str:
    """A mean rating (1-5) to two decimals; empty when nothing was rated."""
    return "" if value is None else f"{value:.2f}"


def judge_means(means: list[dict[str, Any]] | None) -> str:
    """Each judge's mean rating of a source: `judge-1 3.50, judge-2 3.00`."""
    return ", ".join(f"{m['judge']} {rating(m['mean_rating']) or 'n/a'}" for m in means or [])


@dataclass(frozen=True)
class Attention:
    """One kind of thing a maintainer should look at, with the configs (or codes) it concerns."""

    title: str
    entries: list[tuple[str, str | None]]  # (config or code, detail)

    def line(self) -> str:
        names = ", ".join(f"`{name}`" + (f" ({detail})" if detail else "") for name, detail in self.entries)
        return f"{self.title}: {names}."


def attention_items(coverage: pl.DataFrame) -> list[Attention]:
    """Unreviewed system prompts, pairs awaiting people's votes, unchecked languages, configs matching
    no Aya row, and languages whose judge agrees poorly with people."""
    configured = coverage.filter(pl.col("configured"))

    def configs(where: pl.Expr) -> list[tuple[str, str | None]]:
        return [(code, None) for code in sorted(set(configured.filter(where)["config"]))]

    waiting = (
        configured.group_by("config")
        .agg(sent=pl.col("review_sent_pairs").fill_null(0).sum(), done=pl.col("human_verified_pairs").sum())
        .filter(pl.col("sent") > pl.col("done").fill_null(0))
        .sort("config")
    )
    low = configured.filter(
        (pl.col("judge_human_kappa") < LOW_KAPPA) & (pl.col("judge_human_pairs") >= MIN_KAPPA_PAIRS)
    ).sort("language_code")
    items = [
        Attention("System prompts awaiting a speaker's review", configs(~pl.col("system_prompt_reviewed"))),
        Attention(
            "Pairs sent for community review and not decided yet",
            [(r["config"], f"{r['sent'] - (r['done'] or 0):,} of {r['sent']:,}") for r in waiting.to_dicts()],
        ),
        Attention(
            "Languages whose answers are not checked by language ID (no model knows them)",
            configs(~pl.col("language_checked")),
        ),
        Attention(
            "Configs with Aya codes that match no row of this source", configs(pl.col("note").is_not_null())
        ),
        Attention(
            f"Languages where the judge agrees poorly with people (Cohen's kappa under {LOW_KAPPA} on "
            f"{MIN_KAPPA_PAIRS} or more pairs)",
            [
                (r["language_code"], f"κ {r['judge_human_kappa']:.2f} on {r['judge_human_pairs']:,} pairs")
                for r in low.to_dicts()
            ],
        ),
    ]
    return [item for item in items if item.entries]


def attention(coverage: pl.DataFrame) -> list[str]:
    """The "needs attention" list as lines of text (card, CLI, flow report)."""
    return [item.line() for item in attention_items(coverage)]
