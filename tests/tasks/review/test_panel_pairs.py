"""Community review of panel rows: the pair people see is the pair curation would make, best against
worst whichever their sources, and a vote names the source that won."""

from __future__ import annotations

import polars as pl

from languages.schema import Curation
from tasks.format.human import build_human
from tasks.format.views import build_dpo, build_raw
from tasks.review.labelstudio import _task
from tasks.review.pairs import SIDES, candidates, first_side, pair_key, review_task
from tasks.review.votes import Annotation, Task, fold_votes

MODELS = ["model-a", "model-b"]
TEXTS = ["menselijk antwoord", "antwoord van model a", "een heel ander antwoord van b"]


def _raw() -> pl.DataFrame:
    """One judged row: the human answer (3.0), model-a's (4.5, best) and model-b's (1.5, worst)."""
    row = {
        "id": "r0",
        "inputs": "vraag",
        "generation_model": "model-a",
        "generation": TEXTS[1],
        "generations": TEXTS,
        "generation_models": ["human", *MODELS],
        "generation_languages_ok": [None, True, True],
        "generation_language_ok": True,
        "model_name": "judge-1",
        "ratings": [3, 5, 1],
        "judge_models": ["judge-1", "judge-2"],
        "judge_ratings": [[3, 5, 1], [3, 4, 2]],
        "panel_ratings": [3.0, 4.5, 1.5],
        "status": "judged",
    }
    return build_raw([row], "r1")


def _votes_for(key: str, text: str, raw: pl.DataFrame, people: int = 3) -> Task:
    """A task as the server returns it, every person clicking the side that showed `text`."""
    task = review_task(raw.row(0, named=True), key, MODELS)
    side = next(s for s in SIDES if task["data"][s] == text)
    annotations = [
        Annotation(f"v{i}", f"user{i}", side, False, f"2026-12-0{i + 1}T10:00:00Z") for i in range(people)
    ]
    return Task("t0", key, task["meta"]["first_answer"], annotations)


def test_the_reviewed_pair_is_best_against_worst_and_shows_no_source() -> None:
    raw = _raw()
    (key,) = candidates(raw, Curation(), MODELS)["pair"].to_list()
    assert key == pair_key("r0", TEXTS[1], TEXTS[2])  # model-a's and model-b's texts, not the human's
    task = review_task(raw.row(0, named=True), key, MODELS)
    assert sorted([task["data"]["answer_a"], task["data"]["answer_b"]]) == sorted(TEXTS[1:])
    assert task["data"][task["meta"]["first_answer"]] == TEXTS[1] and task["meta"][
        "first_answer"
    ] == first_side(key)
    assert "model" not in str(task["meta"]) and set(task["data"]) == {"id", "prompt", *SIDES}
    # With model-a out of the config the pair is another (human against model-b), under another key.
    (other,) = candidates(raw, Curation(), ["model-b"])["pair"].to_list()
    assert other == pair_key("r0", TEXTS[0], TEXTS[2])


def test_a_vote_for_a_model_decides_the_curated_pair() -> None:
    raw = _raw()
    key = pair_key("r0", TEXTS[1], TEXTS[2])
    folded, _ = fold_votes(raw, [_votes_for(key, TEXTS[2], raw)], 3, "salt", MODELS)
    row = folded.row(0, named=True)
    assert (row["human_preference"], row["review_sources"]) == ("model-b", ["model-a", "model-b"])
    assert (row["votes_first"], row["votes_second"], row["votes_submitted"]) == (0, 3, 3)
    assert {vote["choice"] for vote in row["review_votes"]} == {"model-b"}

    dpo, _ = build_dpo(folded, Curation(), MODELS)  # people reverse the judges: model-b over model-a
    pair = dpo.row(0, named=True)
    assert (pair["chosen_model"], pair["rejected_model"], pair["preference_source"]) == (
        "model-b",
        "model-a",
        "human",
    )
    assert (pair["chosen_rating"], pair["rejected_rating"]) == (1.5, 4.5)
    human = build_human(folded).row(0, named=True)
    assert (human["chosen_model"], human["rejected_model"]) == ("model-b", "model-a")
    assert (human["votes_chosen"], human["votes_rejected"], human["judge_agreed"]) == (3, 0, False)

    # model-a leaves the config: the curated pair is human against model-b, which people never saw.
    dpo, _ = build_dpo(folded, Curation(), ["model-b"])
    pair = dpo.row(0, named=True)
    assert (pair["chosen_model"], pair["rejected_model"], pair["preference_source"]) == (
        "human",
        "model-b",
        "judge",
    )


def test_votes_of_rows_published_before_panels_still_count() -> None:
    """A legacy row (human answer against one LLM's) folded with the old words keeps its verdict."""
    raw = build_raw(
        [
            {
                "id": "old",
                "inputs": "vraag",
                "generation_model": "gen-model",
                "generation": "model antwoord",
                "generations": ["mens antwoord", "model antwoord"],
                "generation_models": ["human", "gen-model"],
                "generation_language_ok": True,
                "model_name": "judge-1",
                "ratings": [4, 2],
                "status": "judged",
            }
        ],
        "r1",
    )
    key = pair_key("old", "mens antwoord", "model antwoord")  # the key such a row was sent under
    old_votes = [
        {"vote": f"v{i}", "annotator": f"a{i}", "choice": "llm_answer", "submitted_at": f"2026-01-0{i + 1}"}
        for i in range(3)
    ]
    published = raw.with_columns(
        review_pair=pl.lit(key),
        review_votes=pl.Series([old_votes]),
        votes_human=pl.lit(0),
        votes_llm=pl.lit(3),
        votes_tie=pl.lit(0),
        votes_submitted=pl.lit(3),
        human_preference=pl.lit("llm_answer"),
        human_decided_at=pl.lit("2026-01-03"),
    )
    # As published (a run rebuilds the views without folding): the old words decide the pair.
    dpo, _ = build_dpo(published, Curation(), ["gen-model"])
    assert dpo.select("chosen_model", "preference_source").row(0) == ("gen-model", "human")
    assert build_human(published).select("chosen_model", "votes_chosen").row(0) == ("gen-model", 3)
    # A sync's fold, with an old task still on the server (its meta names the human answer's side).
    entry = {"id": 7, "meta": {"pair": key, "human_answer": "answer_b"}, "annotations": []}
    task = _task(entry)
    assert task is not None and task.first_side == "answer_b"
    folded, _ = fold_votes(published, [task], 3, "salt", ["gen-model"])
    row = folded.row(0, named=True)
    assert (row["human_preference"], row["votes_second"], row["review_sources"]) == (
        "gen-model",
        3,
        ["human", "gen-model"],
    )
    assert "votes_llm" not in folded.columns
