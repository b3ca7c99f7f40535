"""People's votes folded into the raw rows: pseudonymous, counted once, and a verdict once enough are in.

A backend returns the tasks of a project with their annotations; this module alone decides what a
vote is worth. Cancelled (skipped) annotations and empty results are not votes; an annotator who
submitted twice on a pair counts once (the latest); votes on a pair whose answer has changed since it
was sent do not count for the new answer. Votes already folded stay, even if the task is later
deleted on the server. A pair is decided once `votes_per_pair` votes are in: the strict majority's
choice, or `tie` when there is none. A vote and a verdict name the winning answer by its source
("human" or a generator model's id), which `review_sources` lists for the pair; votes folded when the
pair was always the human answer against the LLM's said `human_answer` / `llm_answer` and are read
as "human" / the row's `generation_model` (`as_source`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from tasks.review.pairs import SIDES, TIE, as_source, key_of, review_pair

VOTE = pl.Struct({"vote": pl.String, "annotator": pl.String, "choice": pl.String, "submitted_at": pl.String})
REVIEW_SCHEMA: dict[str, pl.DataType] = {
    "review_pair": pl.String(),
    "review_sources": pl.List(pl.String),  # the pair's two sources, in `generations` order
    "review_votes": pl.List(VOTE),
    "votes_first": pl.Int64(),  # votes for the first of `review_sources`
    "votes_second": pl.Int64(),
    "votes_tie": pl.Int64(),
    "votes_submitted": pl.Int64(),
    "human_preference": pl.String(),
    "human_decided_at": pl.String(),
}
# Columns of rows folded before there were several generators, replaced by the two above.
LEGACY_COLUMNS = ("votes_human", "votes_llm")
IGNORED = ("cancelled", "empty", "repeated_by_annotator", "unknown_pair")


@dataclass(frozen=True)
class Annotation:
    """One annotation as a backend reports it; `choice` is the side picked (answer_a, answer_b, tie)."""

    id: str
    user: str
    choice: str | None
    cancelled: bool
    submitted_at: str


@dataclass(frozen=True)
class Task:
    """One review task on the server: its id there, the pair it shows, the side showing the pair's
    first answer (in `generations` order), and its annotations."""

    id: str
    pair: str
    first_side: str
    annotations: list[Annotation] = field(default_factory=list)


def annotator_id(user: str, salt: str) -> str:
    """A pseudonym for a server user: a salted hash, never a name or an e-mail (personal data)."""
    return "a-" + hmac.new(salt.encode(), user.encode(), hashlib.sha256).hexdigest()[:12]


def _choice(annotation: Annotation, first_side: str, sources: list[str]) -> str:
    if annotation.choice == TIE:
        return TIE
    return sources[0] if annotation.choice == first_side else sources[1]


def _votes(task: Task, salt: str, ignored: Counter, sources: list[str]) -> list[dict[str, str]]:
    votes = []
    for annotation in task.annotations:
        if annotation.cancelled:
            ignored["cancelled"] += 1
        elif annotation.choice not in (*SIDES, TIE):
            ignored["empty"] += 1
        else:
            votes.append(
                {
                    "vote": annotation.id,
                    "annotator": annotator_id(annotation.user, salt),
                    "choice": _choice(annotation, task.first_side, sources),
                    "submitted_at": annotation.submitted_at,
                }
            )
    return votes


def _one_per_annotator(votes: list[dict[str, str]], ignored: Counter) -> list[dict[str, str]]:
    latest: dict[str, dict[str, str]] = {}
    for vote in sorted(votes, key=lambda v: (v["submitted_at"], v["vote"])):
        if vote["annotator"] in latest:
            ignored["repeated_by_annotator"] += 1
        latest[vote["annotator"]] = vote
    return sorted(latest.values(), key=lambda v: (v["submitted_at"], v["vote"]))


def verdict(votes: list[dict[str, str]], needed: int) -> tuple[str | None, str | None]:
    """(human_preference, decided_at): null while fewer than `needed` votes are in."""
    if len(votes) < needed:
        return None, None
    counts = Counter(vote["choice"] for vote in votes)
    choice, top = counts.most_common(1)[0]
    majority = choice if top * 2 > len(votes) else TIE
    return majority, votes[needed - 1]["submitted_at"]


def fold_votes(
    raw: pl.DataFrame,
    tasks: list[Task] | None,
    votes_per_pair: int,
    salt: str,
    generator_models: list[str] | None = None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Raw with its review columns brought up to date from the server's tasks.

    `tasks` is None when the server was not asked (review not configured): the columns are only
    checked against the current pairs (`generator_models` as in `current_answers`). Returns the new
    raw and counts of what was ignored and why.
    """
    ignored: Counter = Counter()
    by_pair: dict[str, Task] = {}
    for task in tasks or []:
        by_pair[task.pair] = task
    rows = list(raw.iter_rows(named=True))
    pairs = [review_pair(row, generator_models) for row in rows]
    keys = [key_of(row, pair) for row, pair in zip(rows, pairs, strict=True)]
    known = set(keys)
    ignored["unknown_pair"] = sum(1 for pair in by_pair if pair not in known)
    stored = _stored(raw)
    columns: dict[str, list[Any]] = {name: [] for name in REVIEW_SCHEMA}
    for row, pair, key, old in zip(rows, pairs, keys, stored, strict=True):
        task = by_pair.get(key) if key else None
        same_text = old["review_pair"] is not None and old["review_pair"] == key
        sources = [a.source for a in pair] if pair else []
        kept = (
            [{**v, "choice": as_source(v["choice"], row)} for v in old["review_votes"] or []]
            if same_text
            else []
        )
        if task is not None:
            fresh = {vote["vote"]: vote for vote in _votes(task, salt, ignored, sources)}
            kept = [vote for vote in kept if vote["vote"] not in fresh] + list(fresh.values())
        votes = _one_per_annotator(kept, ignored)
        preference, decided_at = verdict(votes, votes_per_pair)
        counts = Counter(vote["choice"] for vote in votes)
        sent = task is not None or same_text
        columns["review_pair"].append(key if sent else None)
        columns["review_sources"].append(sources if sent else None)
        columns["review_votes"].append(votes if sent else None)
        columns["votes_first"].append(counts[sources[0]] if sent else None)
        columns["votes_second"].append(counts[sources[1]] if sent else None)
        columns["votes_tie"].append(counts[TIE] if sent else None)
        columns["votes_submitted"].append(len(votes) if sent else None)
        columns["human_preference"].append(preference if sent else None)
        columns["human_decided_at"].append(decided_at if sent else None)
    review = pl.DataFrame(columns, schema=REVIEW_SCHEMA)
    stale = [c for c in (*REVIEW_SCHEMA, *LEGACY_COLUMNS) if c in raw.columns]
    folded = pl.concat([raw.drop(stale), review], how="horizontal")
    report = {"ignored_annotations": {reason: ignored[reason] for reason in IGNORED if ignored[reason]}}
    return folded, report


def _stored(raw: pl.DataFrame) -> list[dict[str, Any]]:
    """Each row's review columns as published (null where a row was never sent)."""
    present = [c for c in ("review_pair", "review_votes") if c in raw.columns]
    if len(present) < 2 or raw.height == 0:
        return [{"review_pair": None, "review_votes": None}] * raw.height
    return raw.select(present).to_dicts()
