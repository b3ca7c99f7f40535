"""Stage 2, language ID: the prompt's and the human answer's language, read column-wise, and the drops.

The models themselves load in `languages/langid.py`, which config checks use too.
"""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl

from languages.langid import identify, load_model
from languages.schema import LanguageConfig

_FASTTEXT_MODELS = ("lid176", "glotlid")
_LINE_BREAKS = r"[\r\n\u2028\u2029\x0b\x0c\x85]+"  # as languages.langid: fastText reads one line
_TOP_K = 5


def read_languages(texts: pl.Series, config: LanguageConfig) -> tuple[list, list, list]:
    """Top label, its probability and the accepted labels' probability for each text.

    For the fastText models this is `languages.langid.identify` with its per-row work done column-wise
    (one batched `predict`, then numpy): the same numbers, at the cost of the prediction alone.
    """
    if config.lid.model not in _FASTTEXT_MODELS:
        predictions = identify(texts.to_list(), config.lid.labels, config.lid.model)
        return (
            [p.label for p in predictions],
            [p.score for p in predictions],
            [p.accepted_score for p in predictions],
        )
    cleaned = texts.fill_null("").str.replace_all(_LINE_BREAKS, " ").str.strip_chars().to_list()
    names, scores = load_model(config.lid.model).predict(cleaned, k=_TOP_K)
    if any(len(row) != _TOP_K for row in names):  # a model with fewer labels than _TOP_K
        predictions = identify(texts.to_list(), config.lid.labels, config.lid.model)
        return (
            [p.label for p in predictions],
            [p.score for p in predictions],
            [p.accepted_score for p in predictions],
        )
    probabilities = np.minimum(np.asarray(scores, dtype=np.float64).reshape(-1, _TOP_K), 1.0)
    flat = pl.Series(list(itertools.chain.from_iterable(names)), dtype=pl.String)
    accepted = flat.is_in([f"__label__{label}" for label in config.lid.labels]).to_numpy().reshape(-1, _TOP_K)
    accepted_scores = np.minimum((probabilities * accepted).sum(axis=1), 1.0)
    labels = [row[0].removeprefix("__label__") for row in names]
    return (
        labels,
        [round(value, 4) for value in probabilities[:, 0].tolist()],
        [round(value, 4) for value in accepted_scores.tolist()],
    )


def language_columns(frame: pl.DataFrame, config: LanguageConfig) -> pl.DataFrame:
    """Language columns for the rows that passed the row checks, and their wrong-language drops.

    With `lid.model: none` nothing is checked: the columns stay null and no row is dropped.
    """
    passing = frame["drop_reason"].is_null()
    columns = {
        f"{side}_{part}": pl.Series([None] * frame.height, dtype=dtype)
        for side in ("prompt", "answer")
        for part, dtype in (
            ("language", pl.String),
            ("language_top_score", pl.Float64),
            ("language_score", pl.Float64),
        )
    }
    threshold = config.lid.threshold
    if config.lid.model != "none" and passing.any():
        for side, column in (("prompt", "inputs"), ("answer", "targets")):
            where = passing.arg_true()
            read = read_languages(frame[column].filter(passing), config)
            for part, values in zip(("language", "language_top_score", "language_score"), read, strict=True):
                name = f"{side}_{part}"
                columns[name] = columns[name].scatter(where, pl.Series(values, dtype=columns[name].dtype))
            # An answer is read only when its prompt passed: a row drops for its first failure.
            passing = passing & (columns["prompt_language_score"] >= threshold).fill_null(False)
    return frame.with_columns(**columns).with_columns(
        drop_reason=pl.when(pl.col("drop_reason").is_not_null())
        .then(pl.col("drop_reason"))
        .when(pl.col("prompt_language_score") < threshold)
        .then(pl.lit("prompt_wrong_language"))
        .when(pl.col("answer_language_score") < threshold)
        .then(pl.lit("answer_wrong_language"))
    )
