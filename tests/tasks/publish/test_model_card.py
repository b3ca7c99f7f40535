"""The curated card's "Models" section and the judges' agreement beside position consistency."""

from __future__ import annotations

import polars as pl

from languages.schema import LanguageConfig, LanguageID
from tasks.format.kto import build_kto
from tasks.format.models import model_table, panel_agreement
from tasks.format.views import build_dpo, build_raw, quality_stats
from tasks.publish.cards import build_curated_repo
from tests.tasks.format.test_models import pairs, panel_raw
from tests.tasks.format.test_views import RESULTS
from tests.tasks.publish.test_cards import REPORT


def _card(config: LanguageConfig, raw: pl.DataFrame, dpo: pl.DataFrame, quality: dict) -> str:
    report = {
        **REPORT,
        "quality": quality,
        "models": model_table(raw, dpo),
        "judge_agreement": panel_agreement(raw),
    }
    return build_curated_repo(config, pl.DataFrame(), pl.DataFrame(), {}, report).card


def test_a_panel_card_has_a_row_per_source_and_each_judges_mean(dutch: LanguageConfig) -> None:
    raw, dpo = panel_raw(), pairs(("model-a", "model-b"), ("model-b", "model-a"), ("human", "model-b"))
    report = {
        **REPORT,
        "models": model_table(raw, dpo),
        "judge_agreement": panel_agreement(raw),
        "quality": None,
    }
    empty = build_dpo(build_raw([], "r"), dutch.curation)[0]
    card = build_curated_repo(dutch, empty, build_kto(empty), {}, report).card
    section = card.split("## Models")[1].split("\n## ")[0]
    assert (
        "| source | rated answers | mean rating | chosen | rejected | chosen share | wrong language "
        "| `judge-1` | `judge-2` |" in section
    )
    assert "| human (Aya) | 2 | 3.50 | 1 | 0 | 100.0% | n/a | 3.50 | 3.50 |" in section
    assert "| `model-a` | 2 | 3.00 | 1 | 1 | 50.0% | 0.0% | 3.00 | 3.00 |" in section
    assert "| `model-b` | 2 | 3.25 | 1 | 2 | 33.3% | 66.7% | 3.50 | 3.00 |" in section
    assert (
        "Agreement between the judges (Krippendorff's α, ordinal): 0.89 (2 judges, 6 answers of "
        "2 judged rows)." in section
    )


def test_a_one_judge_card_has_no_judge_columns_and_says_so(dutch: LanguageConfig) -> None:
    raw = build_raw(RESULTS, "r1")
    dpo = build_dpo(raw, dutch.curation)[0]
    card = _card(dutch, raw, dpo, quality_stats(raw, dpo))
    section = card.split("## Models")[1].split("\n## ")[0]
    # Judged rows: human 5, 2, 3, 1, 4, 3 (mean 3.00); gen-model 2, 4, 3, 5, 1, 4 (19 / 6 = 3.17).
    # Pairs (default curation): human-wins to the human answer, model-wins and close to the model; the
    # tie, the failed row and the two wrong-language pairs are left out. Language: all 7 generated
    # answers were checked (the failed row's too), 2 in the wrong language: 28.6 %.
    assert dpo.select("chosen_model", "rejected_model").rows() == [
        ("human", "gen-model"),
        ("gen-model", "human"),
        ("gen-model", "human"),
    ]
    assert (
        "| source | rated answers | mean rating | chosen | rejected | chosen share | wrong language |\n"
        in section
    )
    assert "| human (Aya) | 6 | 3.00 | 1 | 2 | 33.3% | n/a |" in section
    assert "| `gen-model` | 6 | 3.17 | 2 | 1 | 66.7% | 28.6% |" in section
    assert "Agreement between the judges" not in section  # said once, in the quality section
    quality = card.split("## Quality")[1].split("\n## ")[0]
    assert "- agreement between the judges (Krippendorff's α, ordinal): one judge" in quality


def test_an_unchecked_language_says_not_checked(dutch: LanguageConfig) -> None:
    config = dutch.model_copy(
        update={"lid": LanguageID(model="none", reason="no offline model knows this language")}
    )
    raw = build_raw(RESULTS, "r1")
    dpo = build_dpo(raw, config.curation)[0]
    section = _card(config, raw, dpo, quality_stats(raw, dpo)).split("## Models")[1]
    assert "| `gen-model` | 6 | 3.17 | 2 | 1 | 66.7% | not checked |" in section
