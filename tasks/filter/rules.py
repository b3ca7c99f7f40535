"""Stage 2, filter: keep the Aya rows of one language that are fit to become preference pairs.

Every row that does not pass leaves with exactly one named reason (the first check it fails), so
`rows_in == len(kept) + sum(dropped.values())` always holds. The checks run in this order: the
language's rows (code, and name where the config lists names), emptiness and length, language ID,
then exact and near duplicates among the rows that passed everything else, so a wrong-language
twin never shadows a good row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from languages.schema import LanguageConfig
from tasks.filter.language_id import language_columns
from tasks.filter.near_duplicates import fold_spaced, near_duplicate_sources
from tasks.source.split import ROW, AyaSplit

# Reasons in the order the checks run; the summary and the card list them in this order.
DROP_REASONS = (
    "other_language_code",
    "empty_prompt",
    "empty_answer",
    "prompt_too_short",
    "prompt_too_long",
    "answer_too_short",
    "answer_too_long",
    "prompt_wrong_language",
    "answer_wrong_language",
    "duplicate_prompt",
    "near_duplicate_prompt",
)
EXAMPLES_PER_REASON = 3
EXCERPT_CHARS = 80


@dataclass
class FilterResult:
    """The rows that go on, how many were dropped for each reason, and what the drops looked like.

    `examples` holds the first few dropped rows per reason (id, a prompt excerpt, and what language
    ID read). `dropped_ids` maps the stable id of every dropped row of the language's Aya codes to
    its reason (ids of kept rows excluded), so rows published earlier can be marked.
    """

    rows_in: int
    kept: pl.DataFrame
    dropped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dropped_ids: dict[str, str] = field(default_factory=dict)


def normalise(column: str) -> pl.Expr:
    """Text as compared for duplicates: Unicode NFKC, lower case, runs of white space folded."""
    text = pl.col(column).fill_null("")
    # NFKC leaves ASCII as it is: only the other rows pay for it (Aya-sized: most of the time here).
    return (
        pl.when(text.str.contains(r"[^\x00-\x7F]"))
        .then(text.str.normalize("NFKC"))
        .otherwise(text)
        .str.to_lowercase()
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


_SEPARATOR = "\x1f"


def stable_id(language_code: str, prompt: str, answer: str) -> str:
    """An id that is the same for the same Aya row in every run, on every machine.

    The fields are joined with U+001F, as ids always were, when none of them holds that character:
    the join is then unambiguous and every id published so far stays the same. Fields that hold it
    are encoded as a JSON array instead, which escapes it, so text cannot move from one field to
    another (`"P\\x1fM", "A"` and `"P", "M\\x1fA"` are two rows). The two encodings never meet: a
    join holds U+001F, a JSON text never does.
    """
    fields = (language_code, prompt, answer)
    if any(_SEPARATOR in field for field in fields):
        text = json.dumps(fields, ensure_ascii=False)
    else:
        text = _SEPARATOR.join(fields)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _ids(frame: pl.DataFrame) -> pl.Series:
    columns = (
        frame["language_code"].fill_null("").to_list(),
        frame["prompt_key"].to_list(),
        frame["answer_key"].to_list(),
    )
    return pl.Series("id", [stable_id(*row) for row in zip(*columns, strict=True)], dtype=pl.String)


def _first_failure(config: LanguageConfig) -> pl.Expr:
    """The first of the row checks a row fails (code and name, emptiness, length), or null."""
    bounds = config.filters
    prompt_len = pl.col("inputs").str.strip_chars().str.len_chars()
    answer_len = pl.col("targets").str.strip_chars().str.len_chars()
    names = getattr(config, "aya_language_names", None)  # contract field, added by the `lid` branch
    other = ~pl.col("language_code").is_in(config.aya_language_codes) | pl.col("language_code").is_null()
    if names:
        other = other | ~pl.col("language").is_in(names) | pl.col("language").is_null()
    return (
        pl.when(other)
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


def _duplicates(frame: pl.DataFrame, threshold: float | None) -> pl.DataFrame:
    """Exact, then near duplicate prompts among the rows that passed every other check.

    The first of a group stays; `duplicate_of` holds the id of the row a dropped one repeats.
    """
    passing = pl.col("drop_reason").is_null()
    repeated = passing & ~pl.col("prompt_key").is_first_distinct().over(passing)
    frame = frame.with_columns(
        drop_reason=pl.when(repeated).then(pl.lit("duplicate_prompt")).otherwise(pl.col("drop_reason")),
        duplicate_of=pl.when(repeated).then(pl.col("id").first().over("prompt_key", passing)),
    )
    if threshold is None:
        return frame
    where = frame["drop_reason"].is_null().arg_true()
    candidates = frame[where]
    if candidates.height < 2:
        return frame
    raw_lengths = candidates["inputs"].str.strip_chars().str.len_chars().to_list()
    folded = fold_spaced(candidates["prompt_key"]).to_list()  # the key is folded but for punctuation
    sources = near_duplicate_sources(candidates["inputs"], threshold, raw_lengths, folded)
    ids = candidates["id"].to_list()
    found = [
        (row, ids[source]) for row, source in zip(where.to_list(), sources, strict=True) if source is not None
    ]
    if not found:
        return frame
    rows = pl.Series([row for row, _ in found], dtype=pl.UInt32)
    reason = frame["drop_reason"].scatter(rows, "near_duplicate_prompt")
    duplicate_of = frame["duplicate_of"].scatter(rows, pl.Series([of for _, of in found], dtype=pl.String))
    return frame.with_columns(reason, duplicate_of)


def _example(row: dict[str, Any], reason: str) -> dict[str, Any]:
    prompt = (row.get("inputs") or "").strip()
    example: dict[str, Any] = {
        "id": row.get("id"),
        "prompt": prompt if len(prompt) <= EXCERPT_CHARS else prompt[: EXCERPT_CHARS - 1] + "…",
        "language": row.get("language"),
        "language_code": row.get("language_code"),
    }
    if reason in ("prompt_wrong_language", "answer_wrong_language"):
        side = reason.split("_")[0]
        if side == "answer":
            answer = (row.get("targets") or "").strip()
            example["answer"] = answer if len(answer) <= EXCERPT_CHARS else answer[: EXCERPT_CHARS - 1] + "…"
        example["read_as"] = row.get(f"{side}_language")
        example["score"] = row.get(f"{side}_language_top_score")
        example["accepted_score"] = row.get(f"{side}_language_score")
    if reason in ("duplicate_prompt", "near_duplicate_prompt"):
        example["duplicate_of"] = row.get("duplicate_of")
    return example


def _examples(frame: pl.DataFrame, others: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """The first few dropped rows per reason, in source order."""
    dropped = frame.filter(pl.col("drop_reason").is_not_null())
    heads = dropped.group_by("drop_reason", maintain_order=True).head(EXAMPLES_PER_REASON)
    examples: dict[str, list[dict[str, Any]]] = {}
    for row in heads.iter_rows(named=True):
        examples.setdefault(row["drop_reason"], []).append(_example(row, row["drop_reason"]))
    own = examples.get("other_language_code", [])
    if len(own) < EXAMPLES_PER_REASON and others.height:
        rows = others.with_columns(prompt_key=normalise("inputs"), answer_key=normalise("targets"))
        rows = rows.with_columns(_ids(rows)).to_dicts()
        examples["other_language_code"] = (own + [_example(r, "other_language_code") for r in rows])[
            :EXAMPLES_PER_REASON
        ]
    return {reason: examples[reason] for reason in DROP_REASONS if reason in examples}


def filter_rows(aya: pl.DataFrame | AyaSplit, config: LanguageConfig) -> FilterResult:
    """Apply code, emptiness, length, language-ID and duplicate checks; count drops by reason.

    Only the language's own rows are read (the split gives them without scanning the others).
    """
    split = aya if isinstance(aya, AyaSplit) else AyaSplit.of(aya)
    frame = split.select(config.aya_language_codes)
    frame = frame.with_columns(
        drop_reason=_first_failure(config), prompt_key=normalise("inputs"), answer_key=normalise("targets")
    )
    frame = frame.with_columns(_ids(frame))
    frame = language_columns(frame, config)
    frame = _duplicates(frame, config.filters.near_duplicate_threshold)

    counts = dict(frame["drop_reason"].drop_nulls().value_counts().iter_rows())
    others = split.rows - frame.height
    if others:
        counts["other_language_code"] = counts.get("other_language_code", 0) + others
    kept = frame.filter(pl.col("drop_reason").is_null())
    kept_ids = set(kept["id"].to_list())
    dropped_ids: dict[str, str] = {}
    for row_id, reason in (
        frame.filter(pl.col("drop_reason").is_not_null()).select("id", "drop_reason").iter_rows()
    ):
        if row_id not in kept_ids:
            dropped_ids.setdefault(row_id, reason)  # the same row twice: its first reason
    examples = _examples(
        frame, split.others(config.aya_language_codes, EXAMPLES_PER_REASON) if others else frame.clear()
    )
    kept = kept.with_columns(
        inputs=pl.col("inputs").str.strip_chars(), targets=pl.col("targets").str.strip_chars()
    ).drop(
        ROW,
        "drop_reason",
        "prompt_key",
        "answer_key",
        "duplicate_of",
        "prompt_language_top_score",
        "answer_language_top_score",
    )
    return FilterResult(
        rows_in=split.rows,
        kept=kept.select("id", *[c for c in kept.columns if c != "id"]),
        dropped={reason: int(counts[reason]) for reason in DROP_REASONS if counts.get(reason)},
        examples=examples,
        dropped_ids=dropped_ids,
    )
