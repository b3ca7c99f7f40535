"""The shared reading of a raw row's answers: panel rows, legacy rows, best against worst."""

from __future__ import annotations

from tasks.format.answers import answers, best_and_worst, current_answers, judges, judges_preferring


def panel_row() -> dict:
    return {
        "generations": ["human text", "answer a", "answer b"],
        "generation_models": ["human", "model-a", "model-b"],
        "judge_models": ["judge-1", "judge-2"],
        "judge_ratings": [[3, 5, 2], [4, 4, 1]],
        "panel_ratings": [3.5, 4.5, 1.5],
        "generation_languages_ok": [None, True, False],
        "ratings": [3, 5, 2],
        "model_name": "judge-1",
    }


def test_a_panel_row_reads_per_source_and_judge() -> None:
    row = panel_row()
    read = answers(row)
    assert [a.source for a in read] == ["human", "model-a", "model-b"]
    assert [a.rating for a in read] == [3.5, 4.5, 1.5]
    assert read[2].judge_ratings == (2, 1) and read[2].language_ok is False
    assert judges(row) == ["judge-1", "judge-2"]
    best, worst = best_and_worst(read)
    assert (best.source, worst.source) == ("model-a", "model-b")
    assert judges_preferring(best, worst) == 1.0
    assert judges_preferring(read[0], read[1]) == 0.0  # judge-1: 3 < 5, judge-2: 4 = 4


def test_a_model_no_longer_configured_is_not_a_candidate() -> None:
    kept = current_answers(panel_row(), ["model-b"])
    assert [a.source for a in kept] == ["human", "model-b"]
    best, worst = best_and_worst(kept)
    assert (best.source, worst.source) == ("human", "model-b")


def test_a_row_published_before_panels_reads_as_one_judge() -> None:
    row = {
        "generations": ["human text", "answer"],
        "generation_models": ["human", "model-a"],
        "generation_model": "model-a",
        "ratings": [2, 4],
        "model_name": "judge-1",
        "generation_language_ok": True,
    }
    read = answers(row)
    assert [(a.source, a.rating, a.judge_ratings, a.language_ok) for a in read] == [
        ("human", 2.0, (2,), None),
        ("model-a", 4.0, (4,), True),
    ]
    assert judges(row) == ["judge-1"]


def test_equal_ratings_still_give_a_stable_pair_and_unrated_rows_none() -> None:
    row = {**panel_row(), "panel_ratings": [4.0, 4.0, 4.0]}
    best, worst = best_and_worst(answers(row))
    assert (best.index, worst.index) == (0, 1) and best.rating == worst.rating
    unrated = {"generations": ["human text", "answer"], "generation_models": ["human", "m"], "ratings": None}
    assert best_and_worst(answers(unrated)) is None


def test_a_row_with_only_the_single_columns_still_has_its_model_answer() -> None:
    row = {
        "targets": "human text",
        "generation": "answer",
        "generation_model": "m",
        "generation_language_ok": False,
    }
    assert [(a.source, a.text, a.language_ok) for a in answers(row)] == [
        ("human", "human text", None),
        ("m", "answer", False),
    ]
