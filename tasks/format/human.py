"""People's verdicts in the curated data: the `human` config, and where they override the judge.

A verdict counts only for the pair people saw: the raw row's `review_pair` must be the key of its
current pair (a row whose answer changed was reset when it was rebuilt), and it overrides the judges
in `default` only while that pair is still the one curation makes of the row. A verdict names the
winning source (`tasks/review/votes.py`); `tie` leaves the pair out of `default`; no verdict leaves
the judges to decide.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from tasks.format.answers import Answer, answers
from tasks.review.pairs import TIE, as_source, judge_preference, key_of, reviewed_sources

PREFERENCE_HUMAN = "human"
_MESSAGES = pl.List(pl.Struct({"role": pl.String, "content": pl.String}))
HUMAN_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "prompt": _MESSAGES,
    "chosen": _MESSAGES,
    "rejected": _MESSAGES,
    "chosen_model": pl.String(),
    "rejected_model": pl.String(),
    "votes_chosen": pl.Int64(),
    "votes_rejected": pl.Int64(),
    "votes_submitted": pl.Int64(),
    "judge_agreed": pl.Boolean(),
    "decided_at": pl.String(),
}


def people_verdict(row: dict[str, Any], pair: tuple[Answer, Answer] | None = None) -> str | None:
    """The winning source, or tie, where people decided this row's pair; None elsewhere.

    With `pair` (its answers in `generations` order), only a verdict on that very pair counts.
    """
    if not row.get("review_pair"):
        return None
    if pair is not None and row["review_pair"] != key_of(row, pair):
        return None
    return as_source(row.get("human_preference"), row)


def build_human(raw: pl.DataFrame) -> pl.DataFrame:
    """The pairs people decided (enough votes and a strict majority), their choice as `chosen`."""
    if raw.height == 0 or "human_preference" not in raw.columns:
        return pl.DataFrame(schema=HUMAN_SCHEMA)
    rows = []
    for row in raw.with_columns(judge_preference(raw)).sort("id").iter_rows(named=True):
        winner = people_verdict(row)
        sources = reviewed_sources(row)
        by_source = {a.source: a.text for a in answers(row)}
        if winner in (None, TIE) or winner not in sources or any(s not in by_source for s in sources):
            continue
        loser = sources[1 - sources.index(winner)]
        choices = [as_source(vote["choice"], row) for vote in row.get("review_votes") or []]
        rows.append(
            {
                "id": row["id"],
                "prompt": [{"role": "user", "content": row["instruction"]}],
                "chosen": [{"role": "assistant", "content": by_source[winner]}],
                "rejected": [{"role": "assistant", "content": by_source[loser]}],
                "chosen_model": winner,
                "rejected_model": loser,
                "votes_chosen": choices.count(winner),
                "votes_rejected": choices.count(loser),
                "votes_submitted": row["votes_submitted"],
                "judge_agreed": row["judge_preference"] == winner,
                "decided_at": row["human_decided_at"],
            }
        )
    return pl.DataFrame(rows, schema=HUMAN_SCHEMA)
