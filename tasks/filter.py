"""Stage 2, filter: keep the Aya rows of one language that are fit to become preference pairs.

Every row that does not pass leaves with exactly one named reason (the first check it fails), so
`rows_in == len(kept) + sum(dropped.values())` always holds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import polars as pl

from languages.schema import LanguageConfig
from tasks.langid import identify
from tasks.similarity import near_duplicates

# Reasons in the order the checks run; the summary and the card list them in this order.
DROP_REASONS = (
    "other_language_code",
    "empty_prompt",
    "empty_answer",
    "prompt_too_short",
    "prompt_too_long",
    "answer_too_short",
    "answer_too_long",
    "duplicate_prompt",
    "near_duplicate_prompt",
    "prompt_wrong_language",
    "answer_wrong_language",
)


@dataclass
class FilterResult:
    """The rows that go on, and how many were dropped for each reason."""

    rows_in: int
    kept: pl.DataFrame
    dropped: dict[str, int] = field(default_factory=dict)
    # Stable id -> drop reason for the dropped rows of the language's own Aya codes.
    dropped_ids: dict[str, str] = field(default_factory=dict)


def normalise(column: str) -> pl.Expr:
    """Text as compared for duplicates: Unicode NFKC, lower case, runs of white space folded."""
    return (
        pl.col(column)
        .fill_null("")
        .str.normalize("NFKC")
        .str.to_lowercase()
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def stable_id(language_code: str, prompt: str, answer: str) -> str:
    """An id that is the same for the same Aya row in every run, on every machine."""
    digest = hashlib.sha256(f"{language_code}\x1f{prompt}\x1f{answer}".encode())
    return digest.hexdigest()[:20]


def _first_failure(config: LanguageConfig) -> pl.Expr:
    bounds = config.filters
    prompt_len = pl.col("inputs").str.strip_chars().str.len_chars()
    answer_len = pl.col("targets").str.strip_chars().str.len_chars()
    return (
        pl.when(~pl.col("language_code").is_in(config.aya_language_codes) | pl.col("language_code").is_null())
        .then(pl.lit("other_language_code"))
        .when(pl.col("inputs").is_null() | (prompt_len == 0))
        .then(pl.lit("empty_prompt"))
        .when(pl.col("targets").is_null() | (answer_len == 0))
        .then(pl.lit("empty_answer"))
        .when(prompt_len < bounds.min_prompt_chars)
        .then(pl.lit("prompt_too_short"))
        .when(prompt_len > bounds.max_prompt_chars)
        .then(pl.lit("prompt_too_long"))
        .when(answer_len < bounds.min_answer_chars)
        .then(pl.lit("answer_too_short"))
        .when(answer_len > bounds.max_answer_chars)
        .then(pl.lit("answer_too_long"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def filter_rows(aya: pl.DataFrame, config: LanguageConfig) -> FilterResult:
    """Apply code, emptiness, length, duplicate and language-ID checks; count drops by reason."""
    frame = aya.with_columns(
        drop_reason=_first_failure(config), prompt_key=normalise("inputs"), answer_key=normalise("targets")
    )
    # Duplicates among the rows that passed so far: the first occurrence stays.
    passing = pl.col("drop_reason").is_null()
    frame = frame.with_columns(
        drop_reason=pl.when(passing & ~pl.col("prompt_key").is_first_distinct().over(passing))
        .then(pl.lit("duplicate_prompt"))
        .otherwise(pl.col("drop_reason"))
    )

    dropped = frame.filter(pl.col("drop_reason").is_not_null())
    candidates = frame.filter(pl.col("drop_reason").is_null())
    if config.filters.near_duplicate_threshold is not None and candidates.height:
        near = pl.Series(
            near_duplicates(candidates["inputs"].to_list(), config.filters.near_duplicate_threshold)
        )
        found = candidates.filter(near).with_columns(drop_reason=pl.lit("near_duplicate_prompt"))
        dropped = pl.concat([dropped, found])
        candidates = candidates.filter(~near)
    labels, threshold, model = config.lid.labels, config.lid.threshold, config.lid.model
    prompt_lid = identify(candidates["inputs"].to_list(), labels, model)
    answer_lid = identify(candidates["targets"].to_list(), labels, model)
    candidates = candidates.with_columns(
        prompt_language=pl.Series([p.label for p in prompt_lid], dtype=pl.String),
        prompt_language_score=pl.Series([p.accepted_score for p in prompt_lid], dtype=pl.Float64),
        answer_language=pl.Series([p.label for p in answer_lid], dtype=pl.String),
        answer_language_score=pl.Series([p.accepted_score for p in answer_lid], dtype=pl.Float64),
    ).with_columns(
        drop_reason=pl.when(pl.col("prompt_language_score") < threshold)
        .then(pl.lit("prompt_wrong_language"))
        .when(pl.col("answer_language_score") < threshold)
        .then(pl.lit("answer_wrong_language"))
    )

    counts = dict(
        pl.concat([dropped["drop_reason"], candidates["drop_reason"]]).drop_nulls().value_counts().iter_rows()
    )
    kept = (
        candidates.filter(pl.col("drop_reason").is_null())
        .with_columns(
            id=pl.struct("language_code", "prompt_key", "answer_key").map_elements(
                lambda row: stable_id(row["language_code"], row["prompt_key"], row["answer_key"]),
                return_dtype=pl.String,
            ),
            inputs=pl.col("inputs").str.strip_chars(),
            targets=pl.col("targets").str.strip_chars(),
        )
        .drop("drop_reason", "prompt_key", "answer_key")
    )
    own = pl.concat([dropped, candidates], how="diagonal_relaxed").filter(
        pl.col("drop_reason").is_not_null() & pl.col("language_code").is_in(config.aya_language_codes)
    )
    own_ids = own.select(
        pl.struct("language_code", "prompt_key", "answer_key").map_elements(
            lambda row: stable_id(row["language_code"], row["prompt_key"], row["answer_key"]),
            return_dtype=pl.String,
        ),
        "drop_reason",
    )
    return FilterResult(
        dropped_ids=dict(own_ids.iter_rows()),
        rows_in=aya.height,
        kept=kept.select("id", *[c for c in kept.columns if c != "id"]),
        dropped={reason: int(counts[reason]) for reason in DROP_REASONS if counts.get(reason)},
    )
