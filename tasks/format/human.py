"""People's verdicts in the curated data: the `human` config, and where they override the judge.

A verdict counts only for the pair people saw: the raw row's `review_pair` must be the key of its
current texts (a row whose answer changed was reset when it was rebuilt). `human_answer` and
`llm_answer` decide a pair; `tie` leaves it out of `default`; no verdict leaves the judge to decide.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from tasks.review.pairs import HUMAN, LLM, judge_preference

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


def people_verdict(row: dict[str, Any]) -> str | None:
    """human_answer, llm_answer or tie where people decided this row's pair; None elsewhere."""
    return row.get("human_preference") if row.get("review_pair") else None


def build_human(raw: pl.DataFrame) -> pl.DataFrame:
    """The pairs people decided (enough votes and a strict majority), their choice as `chosen`."""
    if raw.height == 0 or "human_preference" not in raw.columns:
        return pl.DataFrame(schema=HUMAN_SCHEMA)
    decided = raw.with_columns(judge_preference(raw)).filter(
        pl.col("review_pair").is_not_null() & pl.col("human_preference").is_in([HUMAN, LLM])
    )
    rows = []
    for row in decided.sort("id").iter_rows(named=True):
        human_answer, llm_answer = row["generations"]
        llm_won = row["human_preference"] == LLM
        chosen, rejected = (llm_answer, human_answer) if llm_won else (human_answer, llm_answer)
        votes_human, votes_llm = row["votes_human"], row["votes_llm"]
        rows.append(
            {
                "id": row["id"],
                "prompt": [{"role": "user", "content": row["instruction"]}],
                "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": rejected}],
                "chosen_model": row["generation_model"] if llm_won else "human",
                "rejected_model": "human" if llm_won else row["generation_model"],
                "votes_chosen": votes_llm if llm_won else votes_human,
                "votes_rejected": votes_human if llm_won else votes_llm,
                "votes_submitted": row["votes_submitted"],
                "judge_agreed": row["judge_preference"] == row["human_preference"],
                "decided_at": row["human_decided_at"],
            }
        )
    return pl.DataFrame(rows, schema=HUMAN_SCHEMA)
