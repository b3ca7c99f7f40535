from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from languages.schema import Curation
from tasks.format.kto import build_kto
from tasks.format.views import build_dpo, build_raw, mark_excluded, merge_raw, quality_stats


def _result(
    row_id: str,
    ratings: list[int | None] | None,
    status: str = "judged",
    language_ok: bool | None = True,
    reason: str = "judge_rating_count",
) -> dict[str, Any]:
    return {
        "id": row_id,
        "inputs": f"vraag {row_id}",
        "targets": f"mens {row_id}",
        "language": "Dutch",
        "language_code": "nld",
        "annotation_type": "original-annotations",
        "user_id": "u",
        "generation_model": "gen-model",
        "generation": f"model {row_id}",
        "predicted_generation_language": None if language_ok is None else "nl" if language_ok else "en",
        "predicted_generation_language_score": None if language_ok is None else 0.9,
        "generation_language_ok": language_ok,
        "generations": [f"mens {row_id}", f"model {row_id}"],
        "generation_models": ["human", "gen-model"],
        "model_name": "judge-model",
        "ratings": ratings,
        "rationales": ["a", "b"] if ratings else None,
        "status": status,
        "failure_reason": None if status == "judged" else reason,
        "failure_detail": None,
        "prompt_language": "nl",
        "prompt_language_score": 0.99,
        "answer_language": "nl",
        "answer_language_score": 0.99,
    }


RESULTS = [
    _result("human-wins", [5, 2]),
    _result("model-wins", [2, 4]),
    _result("tie", [3, 3]),
    _result("failed", [None, None], status="failed"),
    _result("model-wins-wrong-language", [1, 5], language_ok=False),
    _result("human-wins-over-wrong-language", [4, 1], language_ok=False),
    _result("close", [3, 4]),
]


def test_raw_keeps_every_row_with_the_recipe_columns() -> None:
    raw = build_raw(RESULTS, run_id="r1")
    assert raw.height == len(RESULTS)
    for column in [
        "id",
        "instruction",
        "targets",
        "language",
        "language_code",
        "annotation_type",
        "user_id",
        "generation_model",
        "generation",
        "predicted_generation_language",
        "predicted_generation_language_score",
        "generations",
        "generation_models",
        "model_name",
        "ratings",
        "rationales",
        "status",
        "failure_reason",
    ]:
        assert column in raw.columns
    assert raw.filter(pl.col("id") == "failed")["ratings"].item().to_list() == [None, None]


def test_curation_rules_and_counts() -> None:
    raw = build_raw(RESULTS, run_id="r1")
    dpo, drops = build_dpo(raw, Curation())
    assert sorted(dpo["id"]) == ["close", "human-wins", "model-wins"]
    assert drops == {"not_judged": 1, "tie": 1, "chosen_wrong_language": 1, "rejected_wrong_language": 1}
    assert dpo.height + sum(drops.values()) == raw.height
    assert (dpo["chosen_rating"] > dpo["rejected_rating"]).all()
    model_wins = dpo.filter(pl.col("id") == "model-wins").row(0, named=True)
    # TRL's conversational preference format with an explicit prompt: the user's turn in `prompt`,
    # only the assistant's turn in `chosen` and `rejected`.
    assert model_wins["prompt"] == [{"role": "user", "content": "vraag model-wins"}]
    assert model_wins["chosen"] == [{"role": "assistant", "content": "model model-wins"}]
    assert model_wins["rejected"] == [{"role": "assistant", "content": "mens model-wins"}]
    assert (model_wins["chosen_model"], model_wins["rejected_model"]) == ("gen-model", "human")
    assert (model_wins["chosen_rating"], model_wins["rejected_rating"]) == (4, 2)
    assert dpo.columns == [
        "id",
        "prompt",
        "chosen",
        "rejected",
        "chosen_rating",
        "rejected_rating",
        "chosen_model",
        "rejected_model",
        "preference_source",
    ]
    assert set(dpo["preference_source"]) == {"judge"}


def test_wrong_language_rejected_may_stay_when_allowed() -> None:
    dpo, drops = build_dpo(build_raw(RESULTS, "r1"), Curation(allow_wrong_language_rejected=True))
    assert "human-wins-over-wrong-language" in dpo["id"].to_list()
    assert "model-wins-wrong-language" not in dpo["id"].to_list()  # a wrong-language answer never wins
    assert "rejected_wrong_language" not in drops


def test_minimum_margin() -> None:
    dpo, drops = build_dpo(build_raw(RESULTS, "r1"), Curation(min_margin=2))
    assert "close" not in dpo["id"].to_list()
    assert drops["margin_below_minimum"] == 1


def test_kto_is_two_conversational_rows_per_pair() -> None:
    dpo, _ = build_dpo(build_raw(RESULTS, "r1"), Curation())
    kto = build_kto(dpo)
    assert kto.columns == ["id", "prompt", "completion", "label", "preference_source"]
    assert kto.height == 2 * dpo.height
    assert kto["label"].sum() == dpo.height
    won = kto.filter((pl.col("id") == "human-wins") & pl.col("label")).row(0, named=True)
    lost = kto.filter((pl.col("id") == "human-wins") & ~pl.col("label")).row(0, named=True)
    # TRL's conversational unpaired format: the user's messages, then the assistant's answer as messages.
    assert won["prompt"] == [{"role": "user", "content": "vraag human-wins"}]
    assert won["completion"] == [{"role": "assistant", "content": "mens human-wins"}]
    assert lost["prompt"] == won["prompt"]
    assert lost["completion"] == [{"role": "assistant", "content": "model human-wins"}]


def test_kto_of_no_pairs_keeps_its_columns() -> None:
    dpo, _ = build_dpo(build_raw([_result("tie", [3, 3])], "r1"), Curation())
    kto = build_kto(dpo)
    assert kto.height == 0 and kto.columns == ["id", "prompt", "completion", "label", "preference_source"]
    assert kto.schema["completion"] == kto.schema["prompt"] == dpo.schema["chosen"]


def test_unchecked_language_is_never_wrong_language() -> None:
    """`lid.model: none`: `generation_language_ok` is None, and the pair is curated on its ratings."""
    raw = build_raw(
        [_result("model-wins", [2, 4], language_ok=None), _result("human-wins", [5, 1], language_ok=None)],
        "r1",
    )
    dpo, drops = build_dpo(raw, Curation())
    assert sorted(dpo["id"]) == ["human-wins", "model-wins"] and drops == {}


def test_merge_replaces_retried_rows_and_keeps_the_rest() -> None:
    first = build_raw(RESULTS, "r1")
    retried = build_raw([_result("failed", [4, 2])], "r2")
    merged = merge_raw(first, retried)
    assert merged.height == first.height
    assert merged["id"].is_unique().all()
    assert merged.filter(pl.col("id") == "failed")["status"].item() == "judged"
    assert merged.filter(pl.col("id") == "failed")["attempts"].item() == 2
    alone = merge_raw(None, retried)
    assert alone["attempts"].to_list() == [1]
    assert alone.drop("attempts").equals(retried.drop("attempts"))


def test_a_row_that_fails_max_attempts_times_is_given_up() -> None:
    failing = {**_result("hopeless", None), "status": "failed", "failure_reason": "generation_error"}
    raw = None
    for attempt in range(1, 4):
        raw = merge_raw(raw, build_raw([failing], f"r{attempt}"), max_attempts=3)
        row = raw.row(0, named=True)
        assert row["attempts"] == attempt
        assert row["status"] == ("gave_up" if attempt == 3 else "failed")
    assert row["failure_reason"] == "generation_error"  # the last reason stays


def test_rows_the_current_filter_drops_are_marked_and_leave_curated() -> None:
    raw = build_raw(RESULTS, "r1")
    curated, _ = build_dpo(raw, Curation())
    gone = curated["id"][0]
    marked = mark_excluded(raw, kept=set(raw["id"]) - {gone}, dropped={gone: "prompt_too_long"})
    assert marked.filter(pl.col("id") == gone)["excluded_reason"].item() == "prompt_too_long"
    assert marked.filter(pl.col("id") != gone)["excluded_reason"].null_count() == raw.height - 1
    again, drops = build_dpo(marked, Curation())
    assert gone not in again["id"].to_list() and drops["excluded_by_filter"] == 1
    back = mark_excluded(marked, kept=set(raw["id"]), dropped={})  # the filter keeps it again
    assert back["excluded_reason"].null_count() == raw.height


@pytest.mark.parametrize("ratings", [[None, 4], [4, None]])
def test_partial_ratings_never_become_pairs(ratings: list) -> None:
    dpo, drops = build_dpo(build_raw([_result("x", ratings)], "r1"), Curation())
    assert dpo.height == 0
    assert drops == {"not_judged": 1}


def test_judge_errors_are_reported_apart_from_judge_failures() -> None:
    results = [
        _result("a", [5, 2]),
        _result("b", [None, None], status="failed", reason="judge_error"),  # the request failed
        _result("c", [None, None], status="failed", reason="judge_error"),
        _result("d", [None, None], status="failed", reason="judge_sections"),  # the judgement was unusable
        _result("e", [None, None], status="failed", reason="swap_judge_rating_count"),
    ]
    quality = quality_stats(build_raw(results, "r"), build_dpo(build_raw(results, "r"), Curation())[0])
    assert quality["judge_failure_rate"] == 0.4  # d and e, of 5 generated answers
    assert quality["judge_error_rate"] == 0.4  # b and c


def test_unchecked_language_gives_no_wrong_language_rate() -> None:
    results = [_result("a", [5, 2], language_ok=None), _result("b", [2, 4], language_ok=None)]
    raw = build_raw(results, "r")
    quality = quality_stats(raw, build_dpo(raw, Curation())[0])
    assert quality["wrong_language_rate"] is None  # "not checked", never 0 %
    assert quality["language_checked_rows"] == 0
    mixed = build_raw([*results, _result("c", [1, 5], language_ok=False)], "r")
    quality = quality_stats(mixed, build_dpo(mixed, Curation())[0])
    assert quality["wrong_language_rate"] == 1.0 and quality["language_checked_rows"] == 1


def test_an_attempt_already_published_is_not_counted_again() -> None:
    """A row a checkpoint published, resumed from the journal after a kill: no request was made."""
    failed = _result("a", None, status="failed", reason="generation_error")
    published = merge_raw(None, build_raw([failed], "r1"))
    assert published["attempts"].to_list() == [1]
    resumed = build_raw([{**failed, "run_id": "r1", "run_at": "t1"}], "r2", "t2")
    again = merge_raw(published, resumed)
    assert again["attempts"].to_list() == [1] and again["run_id"].to_list() == ["r1"]
    retried = merge_raw(published, build_raw([failed], "r2"))
    assert retried["attempts"].to_list() == [2] and retried["run_id"].to_list() == ["r2"]


def test_placeholder_rows_count_no_attempt() -> None:
    placeholder = {**_result("a", [4, 2]), "generation_model": "offline-placeholder"}
    published = merge_raw(None, build_raw([placeholder], "r1"))
    real = merge_raw(published, build_raw([_result("a", None, status="failed")], "r2"))
    assert real["attempts"].to_list() == [1]
