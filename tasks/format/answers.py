"""A raw row's answers, one per source, with their ratings: the one reading every view shares.

A row holds the human Aya answer and one answer per generator model (`generations`,
`generation_models`), rated by every judge of the panel (`judge_ratings`) and by the panel as a whole
(`panel_ratings`, the mean). Rows published before there were several generators or judges have
only the single columns (`ratings`, `generation_language_ok`, `model_name`): they read as a panel of
one judge and a human answer against one model's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks.llm.judge import best_and_worst_indices

HUMAN_SOURCE = "human"


@dataclass(frozen=True)
class Answer:
    """One answer of a row: who wrote it, the text, the panel's rating and each judge's."""

    index: int  # its place in `generations`
    source: str  # "human", or the generator model's id
    text: str | None
    rating: float | None  # the panel's mean; None when not judged
    judge_ratings: tuple[int | None, ...]  # aligned with `judges(row)`
    language_ok: bool | None  # None: not checked (always for the human answer)


def judges(row: dict[str, Any]) -> list[str]:
    """The judge models that rated the row, in panel order."""
    if row.get("judge_models"):
        return list(row["judge_models"])
    return [row["model_name"]] if row.get("model_name") and row.get("ratings") else []


def answers(row: dict[str, Any]) -> list[Answer]:
    """Every answer of the row in `generations` order (the human answer first)."""
    texts = list(row.get("generations") or [])
    if not texts and row.get("generation") is not None:  # a row holding only the single columns
        texts = [row.get("targets"), row["generation"]]
    sources = list(row.get("generation_models") or [])
    if len(sources) != len(texts):  # a failed row of an old layout: the human answer alone is sure
        sources = [HUMAN_SOURCE, *([row.get("generation_model") or "llm"] * (len(texts) - 1))]
    per_judge = row.get("judge_ratings")
    if per_judge is None:
        per_judge = [row["ratings"]] if row.get("ratings") else []
    panel = row.get("panel_ratings")
    if panel is None and row.get("ratings"):
        panel = [float(r) if r is not None else None for r in row["ratings"]]
    languages = row.get("generation_languages_ok")
    if languages is None:
        languages = [None, *([row.get("generation_language_ok")] * (len(texts) - 1))]
    result = []
    for i, (source, text) in enumerate(zip(sources, texts, strict=True)):
        result.append(
            Answer(
                index=i,
                source=source,
                text=text,
                rating=panel[i] if panel is not None and i < len(panel) else None,
                judge_ratings=tuple(r[i] if r is not None and i < len(r) else None for r in per_judge),
                language_ok=languages[i] if i < len(languages) else None,
            )
        )
    return result


def current_answers(row: dict[str, Any], generator_models: list[str] | None) -> list[Answer]:
    """The answers curation may use: the human one and those of models still in the config.

    `generator_models` None keeps every answer (a view built without a config, such as a review sync
    of data whose config is not at hand).
    """
    return [
        a
        for a in answers(row)
        if a.source == HUMAN_SOURCE or generator_models is None or a.source in generator_models
    ]


def best_and_worst(candidates: list[Answer]) -> tuple[Answer, Answer] | None:
    """The UltraFeedback-binarized pair: the best-rated answer against the worst-rated one, by the
    judge's rule (`best_and_worst_indices`: ties to the earlier answer, the human one first).

    None when fewer than two answers are rated; the two may have equal ratings (a tie).
    """
    picked = best_and_worst_indices([a.rating if a.text is not None else None for a in candidates])
    return None if picked is None else (candidates[picked[0]], candidates[picked[1]])


def in_order(pair: tuple[Answer, Answer]) -> tuple[Answer, Answer]:
    """The pair's answers in `generations` order, as people see and key them."""
    first, second = sorted(pair, key=lambda a: a.index)
    return first, second


def judges_preferring(best: Answer, worst: Answer) -> float | None:
    """The share of judges whose own ratings put `best` strictly above `worst`."""
    votes = [
        b > w
        for b, w in zip(best.judge_ratings, worst.judge_ratings, strict=True)
        if b is not None and w is not None
    ]
    return sum(votes) / len(votes) if votes else None
