"""The card section on community review: how many pairs people decided, and how far the judge agrees."""

from __future__ import annotations

from typing import Any

from languages.schema import LanguageConfig

HUMAN_DATA = "human"
HUMAN_CONFIG_LINE = (
    " Config `human` holds only the pairs people decided in community review, their choice as `chosen`,"
    " with the vote counts and whether the judge agreed (`judge_agreed`)."
)


def _figure(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def review_section(config: LanguageConfig, stats: dict[str, Any] | None) -> str:
    """Counts and agreement figures, or one line saying the language has no community review yet."""
    if config.review is None and not (stats and stats.get("sent_pairs")):
        return ""
    stats = stats or {}
    judge = stats.get("judge_human") or {}
    people = stats.get("annotators") or {}
    share = judge.get("share")
    return f"""## Community review

People vote on judged pairs in a Label Studio project ({config.review.votes_per_pair if config.review else "?"} votes decide a
pair, by strict majority). Their verdict replaces the judge's in `default` (column `preference_source`),
and config `human` holds only the pairs they decided.

| | |
| --- | ---: |
| pairs sent for review | {stats.get("sent_pairs", 0):,} |
| human-verified pairs | {stats.get("human_verified_pairs", 0):,} |
| votes | {stats.get("votes", 0):,} |
| judge agrees with people (share of {judge.get("pairs", 0):,} decided pairs) | {"n/a" if share is None else f"{share:.1%}"} |
| judge-people Cohen's kappa | {_figure(judge.get("cohen_kappa"))} |
| agreement among annotators, Krippendorff's alpha ({people.get("annotators", 0)} annotators, {people.get("pairs", 0):,} pairs) | {_figure(people.get("krippendorff_alpha"))} |
"""
