"""Per-source figures of a language's data: how each answer source rates, wins and keeps its language,
and how far the judges of a panel agree with each other.

A source is the human Aya answer ("human") or a generator model. Ratings count only on judged rows
(`status == "judged"`); the language check counts on every answer that was checked, judged or not.
Every answer is read through `tasks/format/answers.py`, so rows published before panels (one judge,
one model) read the same way as panel rows.
"""

from __future__ import annotations

import math
from typing import Any

import krippendorff
import numpy as np
import polars as pl

from tasks.format.answers import HUMAN_SOURCE, answers, judges
from tasks.state.status import STATUS_JUDGED

RATING_SCALE = (1, 2, 3, 4, 5)  # UltraFeedback's overall rating


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _rows(raw: pl.DataFrame) -> list[dict[str, Any]]:
    return list(raw.iter_rows(named=True)) if raw.height else []


def _judged(row: dict[str, Any]) -> bool:
    return row.get("status") == STATUS_JUDGED


def panel_judges(raw: pl.DataFrame) -> list[str]:
    """The judge models of the judged rows, in order of appearance."""
    found: dict[str, None] = {}
    for row in _rows(raw):
        if _judged(row):
            found |= dict.fromkeys(judges(row))
    return list(found)


def model_table(raw: pl.DataFrame, dpo: pl.DataFrame) -> list[dict[str, Any]]:
    """One entry per answer source, the human answer first, then models in order of appearance.

    `answers`: rated answers (judged rows); `mean_rating`: the panel's mean over them; `chosen`,
    `rejected`: curated pairs with the source on that side, `chosen_share` chosen over the pairs it is
    in; `wrong_language_rate`: over its answers language ID checked (None for the human answer and
    when none was checked). With more than one judge, `judge_mean_ratings` gives each judge's mean.
    """
    panel = panel_judges(raw)
    sources: dict[str, dict[str, Any]] = {HUMAN_SOURCE: {}}
    for row in _rows(raw):
        judged, row_judges = _judged(row), judges(row)
        for answer in answers(row):
            if answer.text is None:
                continue
            seen = sources.setdefault(answer.source, {})
            if answer.language_ok is not None:
                seen.setdefault("checked", []).append(answer.language_ok)
            if not judged or answer.rating is None:
                continue
            seen.setdefault("ratings", []).append(answer.rating)
            for judge, rating in zip(row_judges, answer.judge_ratings, strict=False):
                if rating is not None:
                    seen.setdefault("by_judge", {}).setdefault(judge, []).append(rating)
    sides = {
        side: dpo[f"{side}_model"].to_list() if dpo.height and f"{side}_model" in dpo.columns else []
        for side in ("chosen", "rejected")
    }
    for name in [*sides["chosen"], *sides["rejected"]]:
        sources.setdefault(name, {})
    table = []
    for source, seen in sources.items():
        chosen, rejected = sides["chosen"].count(source), sides["rejected"].count(source)
        checked = seen.get("checked", [])
        entry: dict[str, Any] = {
            "source": source,
            "answers": len(seen.get("ratings", [])),
            "mean_rating": _mean(seen.get("ratings", [])),
            "chosen": chosen,
            "rejected": rejected,
            "chosen_share": _share(chosen, chosen + rejected),
            "wrong_language_rate": None
            if source == HUMAN_SOURCE
            else _share(sum(not ok for ok in checked), len(checked)),
        }
        if len(panel) > 1:
            by_judge = seen.get("by_judge", {})
            entry["judge_mean_ratings"] = {judge: _mean(by_judge.get(judge, [])) for judge in panel}
        table.append(entry)
    return table


def _alpha(matrix: np.ndarray) -> float | None:
    """Krippendorff's alpha (ordinal) of judges x answers; None with no answer rated twice."""
    pairable = (~np.isnan(matrix)).sum(axis=0) >= 2
    if not pairable.any():
        return None
    values = set(matrix[:, pairable][~np.isnan(matrix[:, pairable])].tolist())
    if len(values) == 1:  # every judge gave every answer the same rating: alpha's 0/0, read as agreement
        return 1.0
    alpha = krippendorff.alpha(
        reliability_data=matrix, level_of_measurement="ordinal", value_domain=list(RATING_SCALE)
    )
    return round(float(alpha), 4) if math.isfinite(alpha) else None


def panel_agreement(raw: pl.DataFrame) -> dict[str, Any]:
    """How far the judges of a panel agree: Krippendorff's alpha (ordinal) over every rated answer of
    the judged rows, each answer a unit and each judge a coder.

    `judges` and `judged_rows` are counted either way; with fewer than two judges there is nothing to
    compare, and `krippendorff_alpha` and `rated_answers` are None.
    """
    panel = panel_judges(raw)
    judged = [row for row in _rows(raw) if _judged(row)]
    result: dict[str, Any] = {
        "judges": len(panel),
        "judged_rows": len(judged),
        "rated_answers": None,
        "krippendorff_alpha": None,
    }
    if len(panel) < 2:
        return result
    place = {judge: i for i, judge in enumerate(panel)}
    units: list[list[float]] = []
    for row in judged:
        row_judges = judges(row)
        for answer in answers(row):
            ratings = [math.nan] * len(panel)
            for judge, rating in zip(row_judges, answer.judge_ratings, strict=False):
                if rating is not None:
                    ratings[place[judge]] = float(rating)
            if any(not math.isnan(r) for r in ratings):
                units.append(ratings)
    result["rated_answers"] = len(units)
    if units:
        result["krippendorff_alpha"] = _alpha(np.array(units, dtype=float).T)
    return result
