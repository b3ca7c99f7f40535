"""How far to trust the judge in a language: its agreement with people, and people's with each other.

Cohen's kappa (scikit-learn) compares the judges' verdict with people's on the pairs people decided
(the winning source, or tie, over the labels that occur);
Krippendorff's alpha (the `krippendorff` package, nominal) measures agreement among annotators on
every pair with at least two votes. Both are None when there is too little to say anything.
"""

from __future__ import annotations

import math
from typing import Any

import krippendorff
import numpy as np
import polars as pl
from sklearn.metrics import cohen_kappa_score

from tasks.review.pairs import as_source, judge_preference


def _finite(value: float) -> float | None:
    return round(float(value), 4) if value is not None and math.isfinite(value) else None


def judge_agreement(raw: pl.DataFrame) -> dict[str, Any]:
    """Share of decided pairs where the judge's verdict equals people's, and Cohen's kappa."""
    if raw.height == 0 or "human_preference" not in raw.columns:
        return {"pairs": 0, "share": None, "cohen_kappa": None}
    both = raw.with_columns(judge_preference(raw)).filter(
        pl.col("human_preference").is_not_null() & pl.col("judge_preference").is_not_null()
    )
    people = [as_source(row["human_preference"], row) for row in both.iter_rows(named=True)]
    judge = both["judge_preference"].to_list()
    if not people:
        return {"pairs": 0, "share": None, "cohen_kappa": None}
    share = sum(a == b for a, b in zip(people, judge, strict=True)) / len(people)
    kappa = None
    if len(set(people) | set(judge)) > 1:  # one label everywhere: kappa is undefined
        kappa = _finite(cohen_kappa_score(people, judge, labels=sorted(set(people) | set(judge))))
    return {"pairs": len(people), "share": round(share, 4), "cohen_kappa": kappa}


def annotator_agreement(raw: pl.DataFrame) -> dict[str, Any]:
    """Krippendorff's alpha (nominal) over annotators x pairs, for pairs with two or more votes."""
    if raw.height == 0 or "review_votes" not in raw.columns:
        return {"pairs": 0, "annotators": 0, "krippendorff_alpha": None}
    pairs = [
        [{**vote, "choice": as_source(vote["choice"], row)} for vote in row["review_votes"]]
        for row in raw.iter_rows(named=True)
        if row["review_votes"] and len(row["review_votes"]) >= 2
    ]
    choices = sorted({vote["choice"] for votes in pairs for vote in votes})
    annotators = sorted({vote["annotator"] for votes in pairs for vote in votes})
    if len(pairs) < 2 or len(annotators) < 2:
        return {"pairs": len(pairs), "annotators": len(annotators), "krippendorff_alpha": None}
    matrix = np.full((len(annotators), len(pairs)), np.nan)
    row = {name: i for i, name in enumerate(annotators)}
    for column, votes in enumerate(pairs):
        for vote in votes:
            matrix[row[vote["annotator"]], column] = choices.index(vote["choice"])
    values = {int(v) for v in matrix[~np.isnan(matrix)]}
    alpha = (
        1.0
        if len(values) == 1
        else krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    )
    return {"pairs": len(pairs), "annotators": len(annotators), "krippendorff_alpha": _finite(alpha)}


def review_stats(raw: pl.DataFrame) -> dict[str, Any]:
    """The per-language review figures for the card, the run summary and the coverage report."""
    sent = raw.filter(pl.col("review_pair").is_not_null()) if "review_pair" in raw.columns else raw.clear()
    decided = sent.filter(pl.col("human_preference").is_not_null()) if sent.height else sent
    return {
        "sent_pairs": sent.height,
        "human_verified_pairs": decided.height,
        "votes": int(sent["votes_submitted"].sum()) if sent.height else 0,
        "judge_human": judge_agreement(decided),
        "annotators": annotator_agreement(sent),
    }
