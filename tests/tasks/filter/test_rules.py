from __future__ import annotations

import hashlib

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from languages.schema import LanguageConfig, load_language
from tasks.filter.rules import filter_rows, normalise, stable_id


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


ENGLISH_A = "Because much of the country lies below sea level, and without dikes it would flood."


def test_a_wrong_language_twin_does_not_shadow_a_good_row(dutch: LanguageConfig) -> None:
    # Prompt X answered in English first, then in Dutch: the Dutch row stays (issue 11, point 6).
    result = filter_rows(_aya([(GOOD_Q, ENGLISH_A, "nld"), (GOOD_Q, GOOD_A, "nld")]), dutch)
    assert result.dropped == {"answer_wrong_language": 1}
    assert result.kept["targets"].to_list() == [GOOD_A]


def test_duplicates_are_judged_among_rows_that_passed_everything_else(dutch: LanguageConfig) -> None:
    typo = GOOD_Q.replace("belangrijk", "belangrjk")
    rows = [(GOOD_Q, ENGLISH_A, "nld"), (typo, GOOD_A, "nld"), (GOOD_Q, GOOD_A, "nld")]
    result = filter_rows(_aya(rows), dutch)
    # The English-answered row is gone before duplicates are looked for, so the typo twin is the
    # first of its group and stays; the exact prompt after it is its near duplicate.
    assert result.dropped == {"answer_wrong_language": 1, "near_duplicate_prompt": 1}
    assert result.kept["inputs"].to_list() == [typo]


def test_examples_show_what_was_dropped_and_why(dutch: LanguageConfig) -> None:
    english_q = "Why are the dikes in the Netherlands so important to the country?"
    rows = [
        (english_q, GOOD_A, "nld"),
        (GOOD_Q, GOOD_A, "nld"),
        (GOOD_Q + "!", GOOD_A, "nld"),
        (GOOD_Q, GOOD_A, "deu"),
    ]
    result = filter_rows(_aya(rows), dutch)
    assert result.rows_in == result.kept.height + sum(result.dropped.values())
    (wrong,) = result.examples["prompt_wrong_language"]
    assert wrong["prompt"] == english_q and wrong["read_as"] == "en"
    assert wrong["score"] > 0.8 and wrong["accepted_score"] < dutch.lid.threshold
    (near,) = result.examples["near_duplicate_prompt"]
    assert near["duplicate_of"] == result.kept["id"].item()
    (other,) = result.examples["other_language_code"]
    assert other["language_code"] == "deu" and other["id"] == stable_id("deu", GOOD_Q.lower(), GOOD_A.lower())


def test_examples_are_few_and_short(sample: pl.DataFrame, dutch: LanguageConfig) -> None:
    result = filter_rows(sample, dutch)
    assert set(result.examples) == set(result.dropped)
    for reason, rows in result.examples.items():
        assert 1 <= len(rows) <= min(3, result.dropped[reason])
        assert all(len(row["prompt"]) <= 80 for row in rows)


def test_dropped_ids_name_the_reason_and_never_a_kept_row(
    sample: pl.DataFrame, dutch: LanguageConfig
) -> None:
    result = filter_rows(sample, dutch)
    kept = set(result.kept["id"])
    assert not kept & set(result.dropped_ids)
    # Every dropped Dutch row has an id with its reason, except exact copies of a kept row.
    assert sorted(set(result.dropped_ids.values())) == sorted(set(result.dropped) - {"other_language_code"})
    english = stable_id(
        "nld",
        "what is the tallest mountain in the netherlands and how high is it?",
        sample.filter(pl.col("inputs").str.starts_with("What is the tallest"))["targets"].item().lower(),
    )
    assert result.dropped_ids[english] == "prompt_wrong_language"


def test_language_names_narrow_a_shared_code(dutch: LanguageConfig) -> None:
    # Contract: `aya_language_names` keeps only rows with one of these names; others are other rows.
    other_q = "Hoe lang duurt het om met de trein van Amsterdam naar Groningen te reizen?"
    frame = _aya([(GOOD_Q, GOOD_A, "nld"), (other_q, GOOD_A, "nld")])
    frame = frame.with_columns(language=pl.Series(["Dutch", "Flemish"]))
    named = dutch.model_copy(update={"aya_language_names": ["Dutch"]})
    result = filter_rows(frame, named)
    assert result.dropped == {"other_language_code": 1} and result.kept.height == 1
    assert list(result.dropped_ids.values()) == ["other_language_code"]
    assert filter_rows(frame, dutch).kept.height == 2


def test_no_language_model_drops_nothing_for_language(dutch: LanguageConfig) -> None:
    # Contract: `lid.model: none` checks nothing: language columns are null, no wrong-language drop.
    unchecked = dutch.model_copy(update={"lid": dutch.lid.model_copy(update={"model": "none", "labels": []})})
    english_q = "Why are the dikes in the Netherlands so important to the country?"
    result = filter_rows(_aya([(english_q, ENGLISH_A, "nld")]), unchecked)
    assert result.dropped == {} and result.kept.height == 1
    row = result.kept.row(0, named=True)
    assert row["prompt_language"] is None and row["answer_language_score"] is None


def test_kept_columns_are_unchanged(sample: pl.DataFrame, dutch: LanguageConfig) -> None:
    kept = filter_rows(sample, dutch).kept
    assert kept.columns == [
        "id", "inputs", "targets", "language", "language_code", "annotation_type", "user_id",
        "prompt_language", "prompt_language_score", "answer_language", "answer_language_score",
    ]  # fmt: skip


def test_a_split_source_gives_the_same_result(sample: pl.DataFrame, dutch: LanguageConfig) -> None:
    from tasks.source.split import AyaSplit

    split = AyaSplit.of(sample)
    for code in ("nld", "spa", "jpn"):
        config = load_language(code)
        direct, shared = filter_rows(sample, config), filter_rows(split, config)
        assert direct.kept.equals(shared.kept) and direct.dropped == shared.dropped


@pytest.mark.parametrize("code", ["nld", "swh", "hin", "jpn"])
def test_language_columns_equal_identify(sample: pl.DataFrame, code: str) -> None:
    # The filter reads languages column-wise for fastText; the numbers must be identify's.
    from languages.langid import identify

    config = load_language(code)
    off = config.model_copy(update={"lid": config.lid.model_copy(update={"threshold": 0.0})})
    kept = filter_rows(sample, off).kept
    for side, column in (("prompt", "inputs"), ("answer", "targets")):
        predictions = identify(kept[column].to_list(), config.lid.labels, config.lid.model)
        assert kept[f"{side}_language"].to_list() == [p.label for p in predictions]
        assert kept[f"{side}_language_score"].to_list() == [p.accepted_score for p in predictions]


def test_ids_of_fields_holding_the_separator_never_collide(dutch: LanguageConfig) -> None:
    """U+001F inside a prompt or an answer must not move text from one field to the other."""
    assert stable_id("nld", "P\x1fM", "A") != stable_id("nld", "P", "M\x1fA")
    assert stable_id("nld\x1fP", "M", "A") != stable_id("nld", "P\x1fM", "A")
    more = "Het water komt van de rivieren en van de zee, daarom bouwen we al eeuwen hoge dijken."
    rows = [(f"{GOOD_Q}\x1f{more}", GOOD_A, "nld"), (GOOD_Q, f"{more}\x1f{GOOD_A}", "nld")]
    kept = filter_rows(_aya(rows), dutch).kept
    assert kept.height == 2 and kept["id"].is_unique().all()


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="a\x1f", max_size=6))
def test_every_split_of_a_text_into_the_three_fields_has_its_own_id(text: str) -> None:
    """However one text is cut into language code, prompt and answer, each cut is another row."""
    cuts = {(text[:i], text[i:j], text[j:]) for i in range(len(text) + 1) for j in range(i, len(text) + 1)}
    assert len({stable_id(*fields) for fields in cuts}) == len(cuts)


def test_ids_of_the_shipped_sample_are_unchanged(sample: pl.DataFrame) -> None:
    """Every published row is found again by its id: a new encoding must not change existing ids
    (they would all look new, and their answers would be bought again)."""
    keys = sample.select(pl.col("language_code").fill_null(""), normalise("inputs"), normalise("targets"))
    ids = [stable_id(*row) for row in keys.iter_rows()]
    assert ids[:2] == ["fbcea02906a1215db2f2", "c2cd5c47f5b51cd53344"]
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()
    assert digest == "42de433e488537aa8e87bef6af388852e0a00b6a87401b22659ba9fad00aa31f"  # as before U+001F
