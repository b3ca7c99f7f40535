"""Votes folded into raw rows: counted once, pseudonymous, and only for the text people saw."""

from __future__ import annotations

import polars as pl
import pytest

from tasks.review.pairs import current_keys, first_side, review_task
from tasks.review.votes import Annotation, Task, annotator_id, fold_votes, verdict


def _raw(*answers: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [f"r{i}" for i in range(len(answers))],
            "instruction": [f"vraag {i}" for i in range(len(answers))],
            "generations": [list(pair) for pair in answers],
            "generation_models": [["human", "model-x"]] * len(answers),
            "ratings": [[4, 2]] * len(answers),
        }
    )


def _task(key: str, *votes: tuple[str, str | None, bool]) -> Task:
    """votes: (user, "human"/"llm"/None, cancelled)."""
    side = first_side(key)  # the human answer is the first of these pairs
    other = "answer_b" if side == "answer_a" else "answer_a"
    sides = {"human": side, "llm": other, None: None}
    annotations = [
        Annotation(f"{key}:{i}", user, sides[choice], cancelled, f"2026-11-0{i + 1}T10:00:00Z")
        for i, (user, choice, cancelled) in enumerate(votes)
    ]
    return Task(f"t-{key}", key, side, annotations)


def test_votes_decide_by_strict_majority_once_enough_are_in() -> None:
    raw = _raw(("h0", "l0"), ("h1", "l1"), ("h2", "l2"))
    k0, k1, k2 = current_keys(raw).to_list()
    tasks = [
        _task(k0, ("1", "llm", False), ("2", "llm", False), ("3", "human", False)),
        _task(k1, ("1", "human", False), ("2", None, True), ("3", "human", False)),  # a skip: 2 votes
        _task(k2, ("1", "human", False), ("1", "llm", False), ("2", "llm", False), ("3", "llm", False)),
    ]
    folded, report = fold_votes(raw, tasks, 3, "salt")
    rows = folded.to_dicts()
    assert [r["human_preference"] for r in rows] == ["model-x", None, "model-x"]
    assert [r["votes_first"] for r in rows] == [1, 2, 0] and [r["votes_second"] for r in rows] == [2, 0, 3]
    assert [r["votes_submitted"] for r in rows] == [3, 2, 3]
    assert rows[0]["human_decided_at"] == "2026-11-03T10:00:00Z"
    assert report["ignored_annotations"] == {"cancelled": 1, "repeated_by_annotator": 1}
    assert {v["annotator"] for v in rows[0]["review_votes"]} == {annotator_id(u, "salt") for u in "123"}


def test_folding_twice_counts_nothing_twice_and_keeps_votes_of_deleted_tasks() -> None:
    raw = _raw(("h0", "l0"))
    (key,) = current_keys(raw).to_list()
    task = _task(key, ("1", "llm", False), ("2", "llm", False))
    once, _ = fold_votes(raw, [task], 3, "salt")
    twice, _ = fold_votes(once, [task], 3, "salt")
    assert twice.equals(once)
    gone, _ = fold_votes(once, [], 3, "salt")  # the task was deleted on the server
    assert gone["votes_submitted"].to_list() == [2]


def test_votes_on_a_changed_answer_do_not_count() -> None:
    raw = _raw(("h0", "l0"))
    (key,) = current_keys(raw).to_list()
    folded, _ = fold_votes(raw, [_task(key, ("1", "llm", False))], 1, "salt")
    changed = folded.with_columns(generations=pl.Series([["h0", "a new answer"]]))
    refolded, report = fold_votes(changed, [_task(key, ("1", "llm", False))], 1, "salt")
    assert refolded["human_preference"].to_list() == [None]
    assert refolded["review_pair"].to_list() == [None]  # to be sent again, as a new pair
    assert report["ignored_annotations"] == {"unknown_pair": 1}


@pytest.mark.parametrize(
    ("choices", "expected"),
    [(["human"] * 2, (None, None)), (["tie", "model-x", "human"], ("tie", "3")),
     (["model-x", "model-x", "human", "human"], ("tie", "3")), (["model-x", "tie", "model-x"], ("model-x", "3"))],
)  # fmt: skip
def test_verdict(choices: list[str], expected: tuple) -> None:
    votes = [
        {"vote": str(i), "annotator": str(i), "choice": c, "submitted_at": str(i + 1)}
        for i, c in enumerate(choices)
    ]
    assert verdict(votes, 3) == expected


def test_a_task_shows_no_model_rating_or_side() -> None:
    raw = _raw(("menselijk antwoord", "model antwoord")).with_columns(generation_model=pl.lit("some-model"))
    row = raw.to_dicts()[0]
    (key,) = current_keys(raw).to_list()
    task = review_task(row, key)
    assert set(task["data"]) == {"id", "prompt", "answer_a", "answer_b"}
    assert task["data"][task["meta"]["first_answer"]] == "menselijk antwoord"
    sides = {first_side(f"pair-{i}") for i in range(40)}
    assert sides == {"answer_a", "answer_b"}  # both orders occur
