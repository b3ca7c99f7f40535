"""Curation of rows with several generators and a panel of judges: best against worst, on the panel mean."""

from __future__ import annotations

from typing import Any

import polars as pl

from languages.schema import Curation
from tasks.format.kto import build_kto
from tasks.format.views import CURATION_DROPS, build_dpo, build_raw, quality_stats

MODELS = ["human", "model-a", "model-b"]


def _panel(
    row_id: str, judge_ratings: list[list[int]], languages: list[bool | None] | None = None
) -> dict[str, Any]:
    """A judged row: the human answer and two models' answers, rated by two judges."""
    texts = [f"mens {row_id}", f"antwoord a {row_id}", f"iets heel anders van b {row_id}"]
    panel = [sum(r[i] for r in judge_ratings) / len(judge_ratings) for i in range(3)]
    return {
        "id": row_id,
        "inputs": f"vraag {row_id}",
        "generation_model": "model-a",
        "generation": texts[1],
        "generations": texts,
        "generation_models": MODELS,
        "generation_languages_ok": languages or [None, True, True],
        "generation_language_ok": not (languages and False in languages),
        "model_name": "judge-1",
        "ratings": judge_ratings[0],
        "judge_models": ["judge-1", "judge-2"],
        "judge_ratings": judge_ratings,
        "panel_ratings": panel,
        "status": "judged",
    }


ROWS = [
    # panel means [3.0, 4.5, 1.5]: model-a is best, model-b worst; both judges agree.
    _panel("spread", [[3, 5, 1], [3, 4, 2]]),
    # panel means [3.0, 4.0, 3.0]: model-a best, the human answer worst (the earlier of two 3.0s);
    # judge-1 puts model-a above it (5 > 2), judge-2 does not (3 < 4): half the panel agrees.
    _panel("split", [[2, 5, 3], [4, 3, 3]]),
]


def _pairs(dpo: pl.DataFrame) -> dict[str, tuple]:
    return {
        row["id"]: (row["chosen_model"], row["rejected_model"], row["chosen_rating"], row["rejected_rating"])
        for row in dpo.iter_rows(named=True)
    }


def test_the_pair_is_the_best_answer_against_the_worst_on_the_panel_mean() -> None:
    raw = build_raw(ROWS, "r1")
    dpo, drops = build_dpo(raw, Curation(), ["model-a", "model-b"])
    assert drops == {}
    assert _pairs(dpo) == {
        "spread": ("model-a", "model-b", 4.5, 1.5),
        "split": ("model-a", "human", 4.0, 3.0),
    }
    spread = dpo.filter(pl.col("id") == "spread").row(0, named=True)
    assert spread["chosen"][0]["content"] == "antwoord a spread"
    assert spread["rejected"][0]["content"] == "iets heel anders van b spread"
    assert dpo.schema["chosen_rating"] == pl.Float64
    kto = build_kto(dpo)  # KTO follows the pairs: a desirable and an undesirable row each
    spread_kto = kto.filter(pl.col("id") == "spread")
    assert {(r["label"], r["completion"][0]["content"]) for r in spread_kto.iter_rows(named=True)} == {
        (True, "antwoord a spread"),
        (False, "iets heel anders van b spread"),
    }


def test_an_answer_of_a_model_no_longer_configured_leaves_the_curated_data() -> None:
    raw = build_raw(ROWS, "r1")
    dpo, _ = build_dpo(raw, Curation(), ["model-b"])  # model-a was taken out of the config
    # spread: human 3.0 against model-b 1.5; split: human 3.0 and model-b 3.0 tie.
    assert _pairs(dpo) == {"spread": ("human", "model-b", 3.0, 1.5)}
    assert "antwoord a" not in str(dpo.to_dicts())
    everything, _ = build_dpo(raw, Curation(), None)  # no list: every answer may be used
    assert _pairs(everything) == _pairs(build_dpo(raw, Curation(), ["model-a", "model-b"])[0])


def test_a_split_panel_is_dropped_when_agreement_is_required() -> None:
    raw = build_raw(ROWS, "r1")
    dpo, drops = build_dpo(raw, Curation(min_judge_agreement=0.75), MODELS[1:])
    assert list(dpo["id"]) == ["spread"]
    assert drops == {"judges_disagree": 1}
    assert "judges_disagree" in CURATION_DROPS
    dpo, drops = build_dpo(raw, Curation(min_judge_agreement=0.5), MODELS[1:])  # half is enough
    assert sorted(dpo["id"]) == ["split", "spread"] and drops == {}


def test_margin_and_language_rules_apply_to_the_pair_of_models() -> None:
    rows = [
        _panel("close", [[3, 4, 3], [3, 4, 4]]),  # means [3.0, 4.0, 3.5]: a margin of 1.0 over the human
        _panel("wrong-b", [[3, 5, 1], [3, 4, 2]], languages=[None, True, False]),
        _panel("wrong-a", [[3, 5, 1], [3, 4, 2]], languages=[None, False, True]),
    ]
    raw = build_raw(rows, "r1")
    dpo, drops = build_dpo(raw, Curation(min_margin=2), MODELS[1:])
    assert dpo.height == 0
    assert drops == {"margin_below_minimum": 1, "rejected_wrong_language": 1, "chosen_wrong_language": 1}
    allowed, _ = build_dpo(raw, Curation(allow_wrong_language_rejected=True), MODELS[1:])
    assert sorted(allowed["id"]) == ["close", "wrong-b"]


def test_quality_counts_every_model_answer() -> None:
    raw = build_raw([*ROWS, _panel("wrong-b", [[3, 5, 1], [3, 4, 2]], languages=[None, True, False])], "r1")
    dpo, _ = build_dpo(raw, Curation(), MODELS[1:])
    quality = quality_stats(raw, dpo)
    # Six model answers checked, one in the wrong language.
    assert (quality["language_checked_rows"], quality["wrong_language_rate"]) == (6, round(1 / 6, 4))
    # Each judge's rating of each answer: 3 rows x 2 judges for the human answer, twice that for models.
    assert sum(quality["rating_histogram"]["human"]) == 6 and sum(quality["rating_histogram"]["llm"]) == 12
    assert quality["rating_histogram"]["human"] == [0, 1, 4, 1, 0]
    assert quality["human_won_share"] == 0.0


def test_a_judged_row_whose_rerun_for_a_new_model_failed_stays_judged() -> None:
    from tasks.format.views import build_raw, merge_raw

    judged = {
        "id": "a", "inputs": "vraag", "targets": "mens", "status": "judged", "ratings": [2, 4],
        "generations": ["mens", "van m"], "generation_models": ["human", "m"], "generation": "van m",
        "generation_model": "m", "model_name": "j",
    }  # fmt: skip
    published = merge_raw(None, build_raw([judged], "run-1"))
    failed = {
        **judged, "status": "failed", "ratings": None, "generations": ["mens", "van m"],
        "generation_models": ["human", "m"], "failure_reason": "generation_error", "failure_detail": "HTTP 400",
    }  # fmt: skip
    merged = merge_raw(published, build_raw([failed], "run-2"))
    (row,) = merged.iter_rows(named=True)
    assert (row["status"], row["ratings"], row["run_id"]) == ("judged", [2, 4], "run-1")
    assert (row["failure_reason"], row["failure_detail"], row["attempts"]) == (
        "generation_error",
        "HTTP 400",
        2,
    )
    # A row that had failed before is replaced as always.
    again = merge_raw(merge_raw(None, build_raw([failed], "run-1")), build_raw([judged], "run-2"))
    assert again["status"].to_list() == ["judged"] and again["attempts"].to_list() == [2]
