"""Which judged pairs people see, in which order, and what a review task holds.

A pair is one raw row's human answer against its LLM answer. Its key hashes the row id and both texts,
so an answer that changes (a new generation recipe) makes a new pair, and votes on the old text never
count for the new one. Annotators see the prompt and the two answers, in an order randomised per pair
(seeded by the pair key), and nothing else: no model names, no ratings, no hint which is Aya's.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import polars as pl

from languages.schema import Curation
from tasks.filter.near_duplicates import similarity
from tasks.state.status import STATUS_JUDGED

HUMAN, LLM = "human_answer", "llm_answer"
SIDES = ("answer_a", "answer_b")


def pair_key(row_id: str, human: str, llm: str) -> str:
    """A stable key for one (row, human answer, LLM answer); JSON keeps the three fields apart."""
    payload = json.dumps([row_id, human, llm], ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()[:24]


def current_keys(raw: pl.DataFrame) -> pl.Series:
    """The pair key of each raw row as its texts are now; null where the row has no LLM answer."""
    keys = [
        pair_key(row_id, answers[0], answers[1])
        if answers is not None and len(answers) == 2 and None not in answers
        else None
        for row_id, answers in zip(raw["id"].to_list(), raw["generations"].to_list(), strict=True)
    ]
    return pl.Series("pair", keys, dtype=pl.String)


def human_side(key: str) -> str:
    """Which side shows the human answer: half the pairs each way, fixed by the key."""
    return SIDES[hashlib.sha256(f"side:{key}".encode()).digest()[0] & 1]


def review_task(row: dict[str, Any], key: str) -> dict[str, Any]:
    """The task a page shows: the row id, the prompt and the two answers; the side stays in `meta`."""
    human, llm = row["generations"]
    side = human_side(key)
    other = SIDES[1 - SIDES.index(side)]
    return {
        "data": {"id": row["id"], "prompt": row["instruction"], side: human, other: llm},
        "meta": {"pair": key, "human_answer": side},
    }


def _judge_preference(ratings: list[int] | None) -> str | None:
    if not ratings or len(ratings) != 2 or None in ratings:
        return None
    human, llm = ratings
    return HUMAN if human > llm else LLM if llm > human else "tie"


def judge_preference(raw: pl.DataFrame) -> pl.Series:
    """The judge's verdict per row, in the same words as people's: human_answer, llm_answer or tie."""
    return pl.Series("judge_preference", [_judge_preference(r) for r in raw["ratings"].to_list()], pl.String)


def candidates(raw: pl.DataFrame, rules: Curation) -> pl.DataFrame:
    """Rows worth a person's evening, most useful first.

    Sent: judged rows with both ratings, still in the filter, whose LLM answer is not in the wrong
    language and not a near copy of the human one (those never become pairs). First the pairs the
    judge left undecided (a tie, a margin under the minimum, or disagreeing with itself in swapped
    order), then the rest by smallest margin: where people change the data most.
    """
    if raw.height == 0:
        return raw.with_columns(pair=pl.lit(None, dtype=pl.String))
    rows = raw.with_columns(pair=current_keys(raw)).filter(
        (pl.col("status") == STATUS_JUDGED)
        & pl.col("pair").is_not_null()
        & pl.col("ratings").list.len().eq(2)
        & pl.col("excluded_reason").is_null()
        & pl.col("generation_language_ok").ne(False).fill_null(True)
    )
    if rules.max_copy_similarity is not None and rows.height:
        copies = [similarity(*answers) >= rules.max_copy_similarity for answers in rows["generations"]]
        rows = rows.filter(~pl.Series(copies, dtype=pl.Boolean))
    margin = (pl.col("ratings").list.get(0) - pl.col("ratings").list.get(1)).abs()
    undecided = (margin < rules.min_margin) | pl.col("position_consistent").eq(False).fill_null(False)
    return (
        rows.with_columns(_undecided=undecided, _margin=margin)
        .sort(["_undecided", "_margin", "id"], descending=[True, False, False])
        .drop("_undecided", "_margin")
    )
