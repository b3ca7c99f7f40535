"""Which judged pairs people see, in which order, and what a review task holds.

A row's review pair is the pair curation would make of it: its best-rated answer against its
worst-rated one among the answers still in the config (`tasks/format/answers.py`), whichever their
sources (the human answer against a model's, or two models'). Its key hashes the row id and the two
texts, taken in `generations` order, so a new best or worst answer, or an answer that changes (a new
generation recipe), makes a new pair, and votes on the old texts never count for the new one. (A row
published with one model has the key it had before there were several: its pair is the same.)
Annotators see the prompt and the two answers, in an order randomised per pair (seeded by the pair
key), and nothing else: no model names, no ratings, no hint which is Aya's.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import polars as pl

from languages.schema import Curation
from tasks.filter.near_duplicates import similarity
from tasks.format.answers import (
    HUMAN_SOURCE,
    Answer,
    answers,
    best_and_worst,
    current_answers,
    in_order,
    judges_preferring,
)
from tasks.state.status import STATUS_JUDGED

TIE = "tie"
# The words votes and verdicts had when the pair was always the human answer against the one LLM
# answer; rows published then keep them, read as "human" and the row's `generation_model`.
LEGACY_HUMAN, LEGACY_LLM = "human_answer", "llm_answer"
SIDES = ("answer_a", "answer_b")


def pair_key(row_id: str, first: str, second: str) -> str:
    """A stable key for one (row, answer, answer), the answers in `generations` order; JSON keeps
    the three fields apart."""
    payload = json.dumps([row_id, first, second], ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()[:24]


def review_pair(
    row: dict[str, Any], generator_models: list[str] | None = None
) -> tuple[Answer, Answer] | None:
    """The row's best and worst answer in `generations` order; None where fewer than two are rated."""
    pair = best_and_worst(current_answers(row, generator_models))
    return None if pair is None else in_order(pair)


def key_of(row: dict[str, Any], pair: tuple[Answer, Answer] | None) -> str | None:
    return None if pair is None else pair_key(row["id"], str(pair[0].text), str(pair[1].text))


def current_keys(raw: pl.DataFrame, generator_models: list[str] | None = None) -> pl.Series:
    """The pair key of each raw row as its answers and ratings are now; null where it has no pair."""
    keys = [key_of(row, review_pair(row, generator_models)) for row in raw.iter_rows(named=True)]
    return pl.Series("pair", keys, dtype=pl.String)


def reviewed_sources(row: dict[str, Any]) -> list[str]:
    """The sources of the pair people reviewed (`review_sources`), in `generations` order; rows folded
    before there were several generators reviewed the human answer against the one model's."""
    if row.get("review_sources"):
        return list(row["review_sources"])
    return [HUMAN_SOURCE, row.get("generation_model") or "llm"]


def as_source(choice: str | None, row: dict[str, Any]) -> str | None:
    """A vote's or verdict's choice as a source (or tie), reading the words of old rows."""
    if choice == LEGACY_HUMAN:
        return HUMAN_SOURCE
    if choice == LEGACY_LLM:
        return row.get("generation_model") or "llm"
    return choice


def first_side(key: str) -> str:
    """Which side shows the pair's first answer (in `generations` order): half the pairs each way."""
    return SIDES[hashlib.sha256(f"side:{key}".encode()).digest()[0] & 1]


def review_task(row: dict[str, Any], key: str, generator_models: list[str] | None = None) -> dict[str, Any]:
    """The task a page shows: the row id, the prompt and the two answers; the side stays in `meta`.

    `meta.first_answer` names the side of the pair's first answer, as `human_answer` did when the
    first was always the human one (tasks sent then still carry that name, with the same meaning).
    """
    pair = review_pair(row, generator_models)
    assert pair is not None and key_of(row, pair) == key, "a task is made for the row's current pair"
    side = first_side(key)
    other = SIDES[1 - SIDES.index(side)]
    return {
        "data": {"id": row["id"], "prompt": row["instruction"], side: pair[0].text, other: pair[1].text},
        "meta": {"pair": key, "first_answer": side},
    }


def task_first_side(meta: dict[str, Any]) -> str | None:
    """The side of the first answer in a task's metadata, from tasks of either generation."""
    side = meta.get("first_answer", meta.get("human_answer"))
    return side if side in SIDES else None


def _judge_preference(row: dict[str, Any]) -> str | None:
    """The source the panel rated higher among the two reviewed, or tie."""
    if not row.get("review_pair"):
        return None
    by_source = {a.source: a.rating for a in answers(row)}
    first, second = (by_source.get(source) for source in reviewed_sources(row))
    if first is None or second is None:
        return None
    sources = reviewed_sources(row)
    return sources[0] if first > second else sources[1] if second > first else TIE


def judge_preference(raw: pl.DataFrame) -> pl.Series:
    """The judges' verdict on each row's reviewed pair, in the same words as people's: a source or tie."""
    verdicts = [_judge_preference(row) for row in raw.iter_rows(named=True)] if raw.height else []
    return pl.Series("judge_preference", verdicts, pl.String)


def _candidate(
    row: dict[str, Any], rules: Curation, generator_models: list[str] | None
) -> tuple[str, bool, float] | None:
    """(pair key, whether the judges left it undecided, margin) for a row worth sending, else None."""
    judged = row["status"] == STATUS_JUDGED
    pair = best_and_worst(current_answers(row, generator_models)) if judged else None
    if pair is None or row.get("excluded_reason") or any(a.language_ok is False for a in pair):
        return None
    best, worst = pair
    first, second = in_order(pair)
    if rules.max_copy_similarity is not None and similarity(str(first.text), str(second.text)) >= (
        rules.max_copy_similarity
    ):
        return None
    margin = (best.rating or 0) - (worst.rating or 0)
    agreement = judges_preferring(best, worst)
    split = rules.min_judge_agreement is not None and (agreement or 0.0) < rules.min_judge_agreement
    undecided = margin < rules.min_margin or split or row.get("position_consistent") is False
    return str(key_of(row, (first, second))), undecided, margin


def candidates(raw: pl.DataFrame, rules: Curation, generator_models: list[str] | None = None) -> pl.DataFrame:
    """Rows worth a person's evening, most useful first, with their pair key in `pair`.

    Sent: judged rows with a pair, still in the filter, neither of whose answers is in the wrong
    language and which are not near copies of each other (those never become pairs). First the pairs
    the judges left undecided (a tie, a margin under the minimum, a panel that agrees less than
    `min_judge_agreement` asks, or judges disagreeing with themselves in swapped order), then the
    rest by smallest margin: where people change the data most.
    """
    found = [_candidate(row, rules, generator_models) for row in raw.iter_rows(named=True)]
    return (
        raw.with_columns(
            pair=pl.Series([c[0] if c else None for c in found], dtype=pl.String),
            _undecided=pl.Series([c[1] if c else False for c in found], dtype=pl.Boolean),
            _margin=pl.Series([c[2] if c else 0.0 for c in found], dtype=pl.Float64),
        )
        .filter(pl.col("pair").is_not_null())
        .sort(["_undecided", "_margin", "id"], descending=[True, False, False])
        .drop("_undecided", "_margin")
    )
