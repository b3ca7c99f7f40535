"""The curated card's "Models" section: one table row per answer source (the human Aya answer and each
generator model) with its ratings, wins and language, and the judges' agreement with each other.

The figures are `report["models"]` and `report["judge_agreement"]` (tasks/format/models.py).
"""

from __future__ import annotations

from typing import Any

from tasks.format.answers import HUMAN_SOURCE


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _rating(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def agreement_text(agreement: dict[str, Any] | None) -> str:
    """The judges' agreement in a few words: alpha with what it was measured on, or why there is none."""
    if not agreement:
        return "not measured"
    if agreement["judges"] < 2:
        return "one judge, so no agreement between judges to measure"
    alpha = agreement["krippendorff_alpha"]
    counted = (
        f"{agreement['judges']} judges, {agreement['rated_answers']:,} answers of "
        f"{agreement['judged_rows']:,} judged rows"
    )
    return f"{'n/a' if alpha is None else f'{alpha:.2f}'} ({counted})"


def _source(name: str, current: list[str] | None) -> str:
    if name == HUMAN_SOURCE:
        return "human (Aya)"
    retired = current is not None and name not in current
    return f"`{name}`" + (" (no longer in the config: left out of the pairs)" if retired else "")


def _wrong_language(entry: dict[str, Any], checked: bool) -> str:
    if entry["source"] == HUMAN_SOURCE:
        return "n/a"
    if not checked or entry["wrong_language_rate"] is None:
        return "not checked"
    return _percent(entry["wrong_language_rate"])


def models_section(
    models: list[dict[str, Any]] | None,
    agreement: dict[str, Any] | None,
    checked: bool = True,
    current: list[str] | None = None,
) -> str:
    """A markdown table, one row per source, then the judges' agreement with a panel. `checked` is
    false when no language-ID model knows the language (every wrong-language rate is then "not
    checked"); `current` names the models curation uses (None: all)."""
    if not models:
        return ""
    panel = list(models[0].get("judge_mean_ratings") or {})
    header = [
        "source",
        "rated answers",
        "mean rating",
        "chosen",
        "rejected",
        "chosen share",
        "wrong language",
    ]
    header += [f"`{judge}`" for judge in panel]
    lines = [
        "## Models",
        "",
        "Every source of answers in the raw rows: the human Aya answer and each generator model. "
        "`mean rating` is the judges' mean rating (1-5) over the judged rows"
        + (", then each judge's own mean" if panel else "")
        + "; `chosen share` is the share of the curated pairs with the source on one side that it won; "
        "`wrong language` is the share of its answers language ID checked that are in another language.",
        "",
        "| " + " | ".join(header) + " |",
        "| --- |" + " ---: |" * (len(header) - 1),
    ]
    for entry in models:
        cells = [
            _source(entry["source"], current),
            f"{entry['answers']:,}",
            _rating(entry["mean_rating"]),
            f"{entry['chosen']:,}",
            f"{entry['rejected']:,}",
            _percent(entry["chosen_share"]),
            _wrong_language(entry, checked),
        ]
        cells += [_rating((entry.get("judge_mean_ratings") or {}).get(judge)) for judge in panel]
        lines.append("| " + " | ".join(cells) + " |")
    if agreement and agreement.get("judges", 0) > 1:
        lines += [
            "",
            f"Agreement between the judges (Krippendorff's α, ordinal): {agreement_text(agreement)}.",
        ]
    lines.append("")
    return "\n".join(lines)
