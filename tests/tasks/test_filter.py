from __future__ import annotations

import polars as pl
import pytest

from languages.schema import LanguageConfig, load_language
from tasks.filter import filter_rows, stable_id


def _aya(rows: list[tuple[str | None, str | None, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "inputs": [r[0] for r in rows],
            "targets": [r[1] for r in rows],
            "language": ["Dutch"] * len(rows),
            "language_code": [r[2] for r in rows],
            "annotation_type": ["original-annotations"] * len(rows),
            "user_id": ["u"] * len(rows),
        },
        schema={
            c: pl.String
            for c in ("inputs", "targets", "language", "language_code", "annotation_type", "user_id")
        },
    )


GOOD_Q = "Waarom zijn de dijken in Nederland zo belangrijk voor het land?"
GOOD_A = "Een groot deel van Nederland ligt onder zeeniveau, dus zonder dijken zou het land overstromen."


def test_sample_drop_counts_for_dutch(sample: pl.DataFrame, dutch: LanguageConfig) -> None:
    result = filter_rows(sample, dutch)
    assert result.dropped == {
        "other_language_code": 40,
        "empty_prompt": 1,
        "empty_answer": 2,
        "prompt_too_short": 1,
        "prompt_too_long": 1,
        "duplicate_prompt": 2,
        "near_duplicate_prompt": 1,
        "prompt_wrong_language": 1,
    }
    assert result.kept.height == 10
    assert result.rows_in == result.kept.height + sum(result.dropped.values())


@pytest.mark.parametrize("code", ["nld", "spa", "swh", "arb", "hin", "jpn"])
def test_every_row_is_kept_or_counted(sample: pl.DataFrame, code: str) -> None:
    result = filter_rows(sample, load_language(code))
    assert result.rows_in == sample.height == result.kept.height + sum(result.dropped.values())
    assert result.kept.height > 0
    assert result.kept["id"].is_unique().all()


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ((GOOD_Q, GOOD_A, "deu"), "other_language_code"),
        ((None, GOOD_A, "nld"), "empty_prompt"),
        (("  \t\n ", GOOD_A, "nld"), "empty_prompt"),
        ((GOOD_Q, None, "nld"), "empty_answer"),
        ((GOOD_Q, "   ", "nld"), "empty_answer"),
        (("Hoi", GOOD_A, "nld"), "prompt_too_short"),
        ((GOOD_Q * 100, GOOD_A, "nld"), "prompt_too_long"),
        ((GOOD_Q, "Ja.", "nld"), "answer_too_short"),
        ((GOOD_Q, GOOD_A * 200, "nld"), "answer_too_long"),
        (
            ("Why are the dikes in the Netherlands so important to the country?", GOOD_A, "nld"),
            "prompt_wrong_language",
        ),
        (
            (GOOD_Q, "Because much of the country lies below sea level and would flood.", "nld"),
            "answer_wrong_language",
        ),
    ],
)
def test_each_reason(dutch: LanguageConfig, row: tuple, reason: str) -> None:
    result = filter_rows(_aya([row]), dutch)
    assert result.dropped == {reason: 1}
    assert result.kept.height == 0


def test_duplicates_ignore_case_and_white_space(dutch: LanguageConfig) -> None:
    rows = [
        (GOOD_Q, GOOD_A, "nld"),
        ("  " + GOOD_Q.upper().replace(" ", "   "), GOOD_A, "nld"),
        (GOOD_Q, GOOD_A, "nld"),
    ]
    result = filter_rows(_aya(rows), dutch)
    assert result.dropped == {"duplicate_prompt": 2}
    assert result.kept["inputs"].to_list() == [GOOD_Q]


def test_a_dropped_row_does_not_make_its_duplicate_a_duplicate(dutch: LanguageConfig) -> None:
    # The first copy fails the answer check; the second, complete copy must survive.
    result = filter_rows(_aya([(GOOD_Q, None, "nld"), (GOOD_Q, GOOD_A, "nld")]), dutch)
    assert result.dropped == {"empty_answer": 1}
    assert result.kept.height == 1


def test_ids_are_stable_and_text_is_stripped(dutch: LanguageConfig) -> None:
    first = filter_rows(_aya([(f"  {GOOD_Q}\n", GOOD_A, "nld")]), dutch).kept
    second = filter_rows(_aya([(GOOD_Q, GOOD_A, "nld")]), dutch).kept
    assert first["id"].to_list() == second["id"].to_list()
    assert first["inputs"].item() == GOOD_Q
    assert stable_id("nld", "a", "b") != stable_id("nld", "a", "c")


def test_several_aya_codes_for_one_language(dutch: LanguageConfig) -> None:
    both = dutch.model_copy(update={"aya_language_codes": ["nld", "vls"]})
    other_q = "Hoe lang duurt het om met de trein van Amsterdam naar Groningen te reizen?"
    result = filter_rows(_aya([(GOOD_Q, GOOD_A, "vls"), (other_q, GOOD_A, "nld")]), both)
    assert result.kept.height == 2
