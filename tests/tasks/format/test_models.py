"""Per-source figures and the judges' agreement, on hand-built raw and curated frames."""

from __future__ import annotations

import polars as pl
import pytest

from tasks.format.models import model_table, panel_agreement


def panel_raw() -> pl.DataFrame:
    """Three sources (human, model-a, model-b) rated by two judges; the third row failed."""
    base = {
        "generation_models": ["human", "model-a", "model-b"],
        "judge_models": ["judge-1", "judge-2"],
        "model_name": "judge-1",
    }
    rows = [
        {
            **base,
            "id": "r1",
            "status": "judged",
            "generations": ["h1", "a1", "b1"],
            "judge_ratings": [[4, 5, 2], [4, 4, 1]],
            "panel_ratings": [4.0, 4.5, 1.5],
            "generation_languages_ok": [None, True, False],
        },
        {
            **base,
            "id": "r2",
            "status": "judged",
            "generations": ["h2", "a2", "b2"],
            "judge_ratings": [[3, 1, 5], [3, 2, 5]],
            "panel_ratings": [3.0, 1.5, 5.0],
            "generation_languages_ok": [None, True, True],
        },
        {  # failed: its ratings (none) do not count, its checked language does
            **base,
            "id": "r3",
            "status": "failed",
            "generations": ["h3", "a3", "b3"],
            "judge_ratings": None,
            "panel_ratings": None,
            "generation_languages_ok": [None, None, False],
        },
    ]
    return pl.DataFrame(rows)


def pairs(*sides: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"chosen_model": [c for c, _ in sides], "rejected_model": [r for _, r in sides]},
        schema={"chosen_model": pl.String, "rejected_model": pl.String},
    )


def test_three_sources_two_judges() -> None:
    dpo = pairs(("model-a", "model-b"), ("model-b", "model-a"), ("human", "model-b"))
    table = model_table(panel_raw(), dpo)
    # Panel means over the two judged rows: human (4.0 + 3.0) / 2 = 3.5, model-a (4.5 + 1.5) / 2 = 3.0,
    # model-b (1.5 + 5.0) / 2 = 3.25. Per judge: judge-1 human (4+3)/2, a (5+1)/2, b (2+5)/2;
    # judge-2 human (4+3)/2, a (4+2)/2, b (1+5)/2.
    # Pairs: human chosen 1 of 1; model-a chosen 1, rejected 1; model-b chosen 1, rejected 2 -> 1/3.
    # Language: model-a checked twice, never wrong; model-b checked 3 times (r3 too), wrong twice.
    assert table == [
        {"source": "human", "answers": 2, "mean_rating": 3.5, "chosen": 1, "rejected": 0,
         "chosen_share": 1.0, "wrong_language_rate": None,
         "judge_mean_ratings": {"judge-1": 3.5, "judge-2": 3.5}},
        {"source": "model-a", "answers": 2, "mean_rating": 3.0, "chosen": 1, "rejected": 1,
         "chosen_share": 0.5, "wrong_language_rate": 0.0,
         "judge_mean_ratings": {"judge-1": 3.0, "judge-2": 3.0}},
        {"source": "model-b", "answers": 2, "mean_rating": 3.25, "chosen": 1, "rejected": 2,
         "chosen_share": 0.3333, "wrong_language_rate": 0.6667,
         "judge_mean_ratings": {"judge-1": 3.5, "judge-2": 3.0}},
    ]  # fmt: skip


def test_two_judges_agree_by_krippendorffs_ordinal_alpha() -> None:
    # Units (judge-1, judge-2): (4,4) (5,4) (2,1) (3,3) (1,2) (5,5); r3 failed and is not a unit.
    # Coincidences: o44 = 2, o45 = o54 = 1, o12 = o21 = 2, o33 = 2, o55 = 2; n = 12 and the value
    # counts n1..n5 = 2, 2, 2, 3, 3. Ordinal distance d(c, k) = (n_c + ... + n_k - (n_c + n_k) / 2)^2:
    # d(4,5) = 9, d(1,2) = 4, so D_o = (2 * 9 + 4 * 4) / 12 = 34 / 12. Over all value pairs,
    # sum_{c<k} n_c n_k d(c,k) = 1650, so D_e = 2 * 1650 / (12 * 11) = 25.
    # alpha = 1 - D_o / D_e = 1 - 34 / 300 = 0.88667.
    agreement = panel_agreement(panel_raw())
    assert agreement == {"judges": 2, "judged_rows": 2, "rated_answers": 6, "krippendorff_alpha": 0.8867}


def test_judges_who_always_agree_have_alpha_one() -> None:
    raw = panel_raw().with_columns(
        judge_ratings=pl.Series([[[4, 5, 2], [4, 5, 2]], [[3, 1, 5], [3, 1, 5]], None])
    )
    assert panel_agreement(raw)["krippendorff_alpha"] == 1.0


def legacy_raw() -> pl.DataFrame:
    """Rows published before panels: one judge's `ratings`, one model, one language flag per row."""
    return pl.DataFrame(
        {
            "id": ["l1", "l2", "l3"],
            "status": ["judged", "judged", "failed"],
            "generations": [["h1", "a1"], ["h2", "a2"], ["h3", "a3"]],
            "generation_models": [["human", "model-a"]] * 3,
            "generation_model": ["model-a"] * 3,
            "model_name": ["judge-1", "judge-1", None],
            "ratings": [[2, 4], [5, 3], None],
            "generation_language_ok": [True, None, False],
        }
    )


def test_legacy_rows_read_as_one_judge() -> None:
    table = model_table(legacy_raw(), pairs(("model-a", "human"), ("human", "model-a")))
    # human (2 + 5) / 2 = 3.5, model-a (4 + 3) / 2 = 3.5; model-a checked on l1 (right) and l3 (wrong).
    assert table == [
        {"source": "human", "answers": 2, "mean_rating": 3.5, "chosen": 1, "rejected": 1,
         "chosen_share": 0.5, "wrong_language_rate": None},
        {"source": "model-a", "answers": 2, "mean_rating": 3.5, "chosen": 1, "rejected": 1,
         "chosen_share": 0.5, "wrong_language_rate": 0.5},
    ]  # fmt: skip
    assert panel_agreement(legacy_raw()) == {
        "judges": 1,
        "judged_rows": 2,
        "rated_answers": None,
        "krippendorff_alpha": None,
    }


@pytest.mark.parametrize("frame", [pl.DataFrame(), pl.DataFrame({"id": [], "status": []})])
def test_nothing_published_yet(frame: pl.DataFrame) -> None:
    assert model_table(frame, pl.DataFrame()) == [
        {"source": "human", "answers": 0, "mean_rating": None, "chosen": 0, "rejected": 0,
         "chosen_share": None, "wrong_language_rate": None},
    ]  # fmt: skip
    assert panel_agreement(frame)["krippendorff_alpha"] is None
