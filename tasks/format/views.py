"""Stage 7, format: the raw view (every row, every score, every status), curated DPO pairs and KTO rows."""

from __future__ import annotations

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
from tasks.format.human import PREFERENCE_HUMAN, people_verdict
from tasks.llm.judge import JUDGE_FAILURES
from tasks.review.pairs import TIE
from tasks.state.status import PLACEHOLDER_MODEL, STATUS_FAILED, STATUS_GAVE_UP, STATUS_JUDGED

_MESSAGES = pl.List(pl.Struct({"role": pl.String, "content": pl.String}))

RAW_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "instruction": pl.String(),
    "targets": pl.String(),
    "language": pl.String(),
    "language_code": pl.String(),
    "annotation_type": pl.String(),
    "user_id": pl.String(),
    "generation_model": pl.String(),
    "generation": pl.String(),
    "predicted_generation_language": pl.String(),
    "predicted_generation_language_score": pl.Float64(),
    "generations": pl.List(pl.String),
    "generation_models": pl.List(pl.String),
    "model_name": pl.String(),
    "ratings": pl.List(pl.Int64),
    "rationales": pl.List(pl.String),
    "ratings_swapped": pl.List(pl.Int64),
    "position_consistent": pl.Boolean(),
    "status": pl.String(),
    "failure_reason": pl.String(),
    "failure_detail": pl.String(),
    "generation_language_ok": pl.Boolean(),
    "prompt_language": pl.String(),
    "prompt_language_score": pl.Float64(),
    "answer_language": pl.String(),
    "answer_language_score": pl.Float64(),
    "run_id": pl.String(),
    "run_at": pl.String(),
    # How many runs tried this row; a row that failed `max_attempts` times is `gave_up`.
    "attempts": pl.Int64(),
    # Set when the current filter drops a row that was published earlier: it leaves the curated data.
    "excluded_reason": pl.String(),
    # Fingerprint of the generator settings the answer came from: only such answers are reused.
    "generation_recipe": pl.String(),
    # Several generators and a panel of judges. Lists below are aligned with `generations`
    # ([human answer, one answer per generator model in config order]); the single columns above keep
    # the first generator's answer and the first judge's ratings, as the community recipe has them.
    "generation_recipes": pl.List(pl.String),  # null for the human answer
    "generation_languages_ok": pl.List(pl.Boolean),  # null: not checked (and for the human answer)
    "predicted_generation_languages": pl.List(pl.String),
    "judge_models": pl.List(pl.String),  # the panel, in config order (one model without a panel)
    "judge_ratings": pl.List(pl.List(pl.Int64)),  # per judge, aligned with `generations`
    "judge_rationales": pl.List(pl.List(pl.String)),
    "judge_ratings_swapped": pl.List(pl.List(pl.Int64)),  # with judge.swap: reversed order, read back
    "panel_ratings": pl.List(pl.Float64),  # the mean of the judges' ratings per answer: what curation reads
}

JUDGE_ERROR = "judge_error"  # the judge request failed (transport), as opposed to a judge failure

CURATION_DROPS = (
    "excluded_by_filter",
    "not_judged",
    "position_inconsistent",
    "tie",
    "margin_below_minimum",
    "near_copy",
    "human_tie",
    "judges_disagree",
    "chosen_wrong_language",
    "rejected_wrong_language",
)


def build_raw(results: list[dict[str, Any]], run_id: str, run_at: str = "") -> pl.DataFrame:
    """One row per LLM-stage result, in the raw schema (a superset of the community recipe's).

    `run_at` is the run's start as an ISO 8601 UTC timestamp: the coverage report's "last run". A row
    resumed from the journal keeps the run that made its requests (its own `run_id` and `run_at`).
    """
    records = [
        {
            **row,
            "instruction": row["inputs"],
            "run_id": row.get("run_id") or run_id,
            "run_at": row.get("run_at") or run_at or None,
        }
        for row in results
    ]
    return (
        pl.DataFrame(records, schema=RAW_SCHEMA, strict=False) if records else pl.DataFrame(schema=RAW_SCHEMA)
    )


def merge_raw(published: pl.DataFrame | None, new: pl.DataFrame, max_attempts: int = 3) -> pl.DataFrame:
    """Published rows plus this run's; a row processed again replaces its old version, except that a
    judged row whose new attempt failed (it was due again because a generator model joined) stays judged
    with the failure noted.

    Each processed row counts one more attempt, but only when a request was made for it: a row
    published by the very run that made its requests (the same `run_id`, found again in the journal
    after a kill) is the same attempt, and the placeholder's rows (`--offline`) count none. A row that
    failed for the `max_attempts`-th time is given up (`gave_up`, with its last reason) and not tried
    again unless a run asks for it.
    """
    schema = {"id": pl.String, "previous_attempts": pl.Int64, "previous_run": pl.String}
    previous = (
        published.select(
            "id",
            previous_attempts=pl.when(_placeholder_rows(published))
            .then(pl.lit(0, dtype=pl.Int64))
            .otherwise(_attempts_so_far(published)),
            previous_run=pl.col("run_id") if "run_id" in published.columns else pl.lit(None, dtype=pl.String),
        )
        if published is not None and published.height
        else pl.DataFrame(schema=schema)
    )
    same_attempt = (pl.col("run_id") == pl.col("previous_run")).fill_null(False)
    new = (
        new.join(previous, on="id", how="left")
        .with_columns(
            attempts=pl.col("previous_attempts").fill_null(0) + pl.when(same_attempt).then(0).otherwise(1)
        )
        .with_columns(
            status=pl.when((pl.col("status") == STATUS_FAILED) & (pl.col("attempts") >= max_attempts))
            .then(pl.lit(STATUS_GAVE_UP))
            .otherwise(pl.col("status"))
        )
        .select(new.columns)
    )
    if published is None or published.height == 0:
        return new.sort("id")
    # A judged row processed again because a generator model joined, whose new attempt failed, keeps
    # its judged answers and pair: the failure is recorded on it (reason, detail, one more attempt).
    was_judged = published.filter(pl.col("status") == STATUS_JUDGED)["id"].implode()
    regressed = new.filter((pl.col("status") != STATUS_JUDGED) & pl.col("id").is_in(was_judged))
    if regressed.height:
        new = new.filter(~pl.col("id").is_in(regressed["id"].implode()))
        failures = regressed.select(
            "id", new_attempts="attempts", new_reason="failure_reason", new_detail="failure_detail"
        )
        failed_again = pl.col("new_attempts").is_not_null()
        published = (
            published.join(failures, on="id", how="left")
            .with_columns(
                attempts=pl.when(failed_again)
                .then(pl.col("new_attempts"))
                .otherwise(_attempts_so_far(published)),
                failure_reason=pl.when(failed_again)
                .then(pl.col("new_reason"))
                .otherwise(pl.col("failure_reason")),
                failure_detail=pl.when(failed_again)
                .then(pl.col("new_detail"))
                .otherwise(pl.col("failure_detail")),
            )
            .drop("new_attempts", "new_reason", "new_detail")
        )
    kept = published.filter(~pl.col("id").is_in(new["id"].implode()))
    # Diagonal: a column added in a later version is null in rows published before it existed. Columns
    # that later stages add to published rows (community review's votes) stay; a reprocessed row,
    # whose answer is new, has none of them, so earlier votes never count for its new answer.
    extra = [column for column in published.columns if column not in new.columns]
    merged = pl.concat([kept, new], how="diagonal_relaxed").select(*new.columns, *extra)
    return merged.with_columns(attempts=_attempts_so_far(merged)).sort("id")


def _placeholder_rows(raw: pl.DataFrame) -> pl.Expr:
    """Rows the offline placeholder answered: no request was made for them."""
    if "generation_model" not in raw.columns:
        return pl.lit(False)
    return (pl.col("generation_model") == PLACEHOLDER_MODEL).fill_null(False)


def _attempts_so_far(raw: pl.DataFrame) -> pl.Expr:
    """Rows published before attempts were counted had been tried once."""
    counted = pl.col("attempts") if "attempts" in raw.columns else pl.lit(None, dtype=pl.Int64)
    return counted.fill_null(1).cast(pl.Int64)


def mark_excluded(raw: pl.DataFrame, kept: set[str], dropped: dict[str, str]) -> pl.DataFrame:
    """Apply the current filter to published rows: a row it now drops keeps its data, marked with why.

    A row it keeps again loses the mark; a row the filter did not see this run keeps its mark as is.
    """
    if raw.height == 0:
        return raw
    reasons = pl.DataFrame(
        {"id": list(dropped), "now_dropped": list(dropped.values())},
        schema={"id": pl.String, "now_dropped": pl.String},
    )
    return (
        raw.join(reasons, on="id", how="left")
        .with_columns(
            excluded_reason=pl.when(pl.col("now_dropped").is_not_null())
            .then(pl.col("now_dropped"))
            .when(pl.col("id").is_in(pl.Series(list(kept), dtype=pl.String).implode()))
            .then(pl.lit(None, dtype=pl.String))
            .otherwise(pl.col("excluded_reason"))
        )
        .select(raw.columns)
    )


# Who decided which answer of a pair won (`preference_source`): the UltraFeedback judge's ratings, or
# people in community review (tasks/review/), whose verdict overrides the judge's where there is one.
PREFERENCE_JUDGE = "judge"


def _message(role: str, content: str) -> list[dict[str, str]]:
    return [{"role": role, "content": content}]


def _pair_rules(chosen: Answer, rejected: Answer, rules: Curation) -> str | None:
    """The rules every pair obeys, whoever decided it: no near copy, no answer in the wrong language."""
    first, second = in_order((chosen, rejected))
    if (
        rules.max_copy_similarity is not None
        and similarity(first.text, second.text) >= rules.max_copy_similarity
    ):
        return "near_copy"
    # None means "not checked" (no language-ID model knows the language; the human answer): never a failure.
    if chosen.language_ok is False:
        return "chosen_wrong_language"
    if rejected.language_ok is False and not rules.allow_wrong_language_rejected:
        return "rejected_wrong_language"
    return None


Verdict = tuple[str | None, tuple[Answer, Answer] | None, str]


def _verdict(row: dict[str, Any], rules: Curation, generator_models: list[str] | None) -> Verdict:
    """(drop reason or None, (chosen, rejected), who decided) for the row's pair: its best-rated answer
    against its worst-rated one among the current answers (`tasks/format/answers.py`). People decide
    where they decided that pair, the judges' panel ratings and the curation rules elsewhere."""
    if row.get("excluded_reason"):
        return "excluded_by_filter", None, PREFERENCE_JUDGE
    pair = best_and_worst(current_answers(row, generator_models)) if row["status"] == STATUS_JUDGED else None
    if pair is None:
        return "not_judged", None, PREFERENCE_JUDGE
    best, worst = pair
    people = people_verdict(row, in_order(pair))
    if people == TIE:
        return "human_tie", None, PREFERENCE_HUMAN
    if people in (best.source, worst.source):
        chosen, rejected = (best, worst) if people == best.source else (worst, best)
        return _pair_rules(chosen, rejected, rules), (chosen, rejected), PREFERENCE_HUMAN
    if row.get("position_consistent") is False:  # judged in both orders, and they disagree
        return "position_inconsistent", None, PREFERENCE_JUDGE
    assert best.rating is not None and worst.rating is not None
    if best.rating == worst.rating:
        return "tie", None, PREFERENCE_JUDGE
    if best.rating - worst.rating < rules.min_margin:
        return "margin_below_minimum", None, PREFERENCE_JUDGE
    if (
        rules.min_judge_agreement is not None
        and (judges_preferring(best, worst) or 0.0) < rules.min_judge_agreement
    ):
        return "judges_disagree", None, PREFERENCE_JUDGE
    return _pair_rules(best, worst, rules), (best, worst), PREFERENCE_JUDGE


DPO_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "prompt": _MESSAGES,
    "chosen": _MESSAGES,
    "rejected": _MESSAGES,
    # The panel's mean rating (1-5) of each answer: a whole number with one judge, maybe not with more.
    "chosen_rating": pl.Float64(),
    "rejected_rating": pl.Float64(),
    "chosen_model": pl.String(),
    "rejected_model": pl.String(),
    "preference_source": pl.String(),
}


def _pair(row: dict[str, Any], chosen: Answer, rejected: Answer, source: str) -> dict[str, Any]:
    """One pair in TRL's conversational preference format with an explicit prompt: `prompt` the user's
    turn, `chosen` and `rejected` the assistant's turn only. (TRL's DPOTrainer fails on a plain-text
    `prompt` beside conversational `chosen`/`rejected`, the layout this replaced.)"""
    return {
        "id": row["id"],
        "prompt": _message("user", row["instruction"]),
        "chosen": _message("assistant", chosen.text),
        "rejected": _message("assistant", rejected.text),
        "chosen_rating": chosen.rating,
        "rejected_rating": rejected.rating,
        "chosen_model": chosen.source,
        "rejected_model": rejected.source,
        "preference_source": source,
    }


def build_dpo(
    raw: pl.DataFrame, rules: Curation, generator_models: list[str] | None = None
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Chosen/rejected pairs with a clear winner; every raw row not curated is counted by reason.

    A row's pair is its best-rated answer against its worst-rated one (UltraFeedback-binarized, on the
    panel's mean rating) among the human answer and the answers of `generator_models` (None: every
    answer). The winner is people's verdict where community review decided that pair
    (`preference_source` "human"; a pair they tied is left out), else the judges' ("judge"). Extra
    columns beside `prompt`, `chosen` and `rejected` are ones TRL's DPO, ORPO and KTO trainers ignore.
    """
    pairs: list[dict[str, Any]] = []
    drops = dict.fromkeys(CURATION_DROPS, 0)
    for row in raw.iter_rows(named=True):
        reason, pair, source = _verdict(row, rules, generator_models)
        if reason or pair is None:
            drops[reason or "not_judged"] += 1
            continue
        pairs.append(_pair(row, *pair, source))
    return pl.DataFrame(pairs, schema=DPO_SCHEMA), {k: v for k, v in drops.items() if v}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def quality_stats(raw: pl.DataFrame, dpo: pl.DataFrame) -> dict[str, Any]:
    """Per-language quality figures for the card, the run summary and the coverage report.

    Judge failures (unusable or misaligned judgements) and judge errors (the request itself failed:
    timeouts, HTTP errors) are counted apart: the first says how far to trust the judge, the second
    how healthy the endpoint was. Model answers whose language was not checked count in neither
    direction; the rating histogram counts each judge's rating of each answer ("llm": every model's).
    """
    generated = raw.filter(pl.col("generation").is_not_null()) if raw.height else raw
    judged = raw.filter(pl.col("status") == STATUS_JUDGED) if raw.height else raw
    reasons = generated["failure_reason"] if generated.height else pl.Series([], dtype=pl.String)
    judge_failures = int(reasons.is_in([*JUDGE_FAILURES, *(f"swap_{r}" for r in JUDGE_FAILURES)]).sum())
    judge_errors = int((reasons == JUDGE_ERROR).sum())
    model_answers = [
        a for row in generated.iter_rows(named=True) for a in answers(row) if a.source != HUMAN_SOURCE
    ]
    checked = [a.language_ok for a in model_answers if a.language_ok is not None]
    # One count per judge's rating of an answer; "llm" holds every model's answers.
    histogram: dict[str, list[int]] = {"human": [0] * 5, "llm": [0] * 5}
    for row in judged.iter_rows(named=True):
        for answer in answers(row):
            for rating in answer.judge_ratings:
                if rating is not None and 1 <= rating <= 5:
                    histogram["human" if answer.source == HUMAN_SOURCE else "llm"][rating - 1] += 1
    both_orders = judged.filter(pl.col("position_consistent").is_not_null()) if judged.height else judged
    margins = dpo["chosen_rating"] - dpo["rejected_rating"] if dpo.height else None
    return {
        "judged_rows": judged.height,
        "language_checked_rows": len(checked),  # model answers whose language was checked
        "wrong_language_rate": _rate(checked.count(False), len(checked)),
        "judge_failure_rate": _rate(judge_failures, generated.height),
        "judge_error_rate": _rate(judge_errors, generated.height),
        "rating_histogram": histogram,
        "mean_margin": round(float(margins.mean()), 4) if margins is not None else None,
        "human_won_share": _rate(int((dpo["chosen_model"] == "human").sum()), dpo.height)
        if dpo.height
        else None,
        "position_consistency": _rate(int(both_orders["position_consistent"].sum()), both_orders.height)
        if both_orders.height
        else None,
    }
