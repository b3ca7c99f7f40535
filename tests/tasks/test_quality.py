"""Data quality beyond the recipe: near-duplicate prompts, near-copied answers, position bias, stats."""

from __future__ import annotations

import polars as pl
import pytest

from languages.schema import Curation, LanguageConfig, load_language
from tasks.filter.near_duplicates import near_duplicate_sources, near_duplicates, shingles, similarity
from tasks.filter.rules import filter_rows
from tasks.format.views import build_dpo, build_raw, quality_stats
from tasks.llm.client import build_llm, resolve_endpoint
from tasks.llm.generate import Generator
from tasks.llm.judge import Judge
from tasks.llm.stage import respond_and_judge
from tests.openai_server import OpenAIServer, Reply, well_formed_judgement
from tests.tasks.format.test_views import _result


def test_near_duplicate_prompts_in_the_sample(sample: pl.DataFrame) -> None:
    dutch = filter_rows(sample, load_language("nld"))
    spanish = filter_rows(sample, load_language("spa"))
    assert dutch.dropped["near_duplicate_prompt"] == 1 and spanish.dropped["near_duplicate_prompt"] == 1
    # The variants differ from earlier prompts only in punctuation and accents' company: the first stays.
    assert "Leg uit waarom de lucht overdag blauw is." in dutch.kept["inputs"].to_list()
    assert "Leg uit waarom de lucht overdag blauw is!" not in dutch.kept["inputs"].to_list()
    assert (
        "¿Cuál es la diferencia entre el clima y el tiempo atmosférico?" in spanish.kept["inputs"].to_list()
    )


def test_near_duplicate_check_can_be_turned_off(sample: pl.DataFrame) -> None:
    config = load_language("nld")
    off = config.model_copy(
        update={"filters": config.filters.model_copy(update={"near_duplicate_threshold": None})}
    )
    result = filter_rows(sample, off)
    assert "near_duplicate_prompt" not in result.dropped
    assert result.kept.height == filter_rows(sample, config).kept.height + 1


def test_near_duplicates_confirms_candidates_exactly() -> None:
    texts = [
        "Wat is het verschil tussen een rivier en een kanaal?",
        "wat is het verschil tussen een RIVIER en een kanaal",
        "Wat is de hoofdstad van Friesland?",
        "Vraag 2: Wat is het verschil tussen een rivier en een kanaal?",
    ]
    assert near_duplicates(texts, 0.9) == [False, True, False, False]
    assert similarity(texts[0], texts[3]) < 0.9 < similarity(texts[0], texts[1])


def test_near_copied_answers_are_not_curated() -> None:
    copied = _result("copy", [2, 5])
    copied["generations"] = ["Een kanaal is gegraven.", "Een kanaal is gegraven!"]
    different = _result("own", [2, 5])
    raw = build_raw([copied, different], "r")
    dpo, drops = build_dpo(raw, Curation())
    assert dpo["id"].to_list() == ["own"] and drops == {"near_copy": 1}
    dpo, drops = build_dpo(raw, Curation(max_copy_similarity=None))
    assert sorted(dpo["id"]) == ["copy", "own"]


def _clients(config: LanguageConfig, base_url: str):
    gen = Generator(
        build_llm(config.generation, resolve_endpoint(config.generation, base_url, "g"), "generator"),
        config.generation,
    )
    judge = Judge(
        build_llm(config.judge, resolve_endpoint(config.judge, base_url, "j"), "judge"), config.judge
    )
    return gen, judge


def test_swap_judging_keeps_only_order_independent_preferences(sample: pl.DataFrame) -> None:
    base = load_language("jpn")
    config = base.model_copy(update={"judge": base.judge.model_copy(update={"swap": True, "max_retries": 0})})
    rows = filter_rows(sample, config).kept.to_dicts()
    human_answers = {row["targets"] for row in rows}
    biased = {rows[0]["inputs"], rows[1]["inputs"]}  # for these, the judge always prefers Text 1

    def script(kind: str, user: str, messages: list) -> Reply | None:
        if kind != "judge":
            return None
        if any(prompt in user for prompt in biased):
            return Reply(well_formed_judgement([5, 2]))
        first_is_human = user.rindex("<text 1> ") + len("<text 1> ")  # the annotated texts come last
        human_first = any(user.startswith(answer, first_is_human) for answer in human_answers)
        return Reply(
            well_formed_judgement([4, 2] if human_first else [2, 4])
        )  # the human answer wins, either order

    with OpenAIServer(script) as server:
        results, stats = respond_and_judge(rows, config, *_clients(config, server.base_url), concurrency=4)
    assert stats.calls == {"generate": len(rows), "judge": 2 * len(rows)}
    by_prompt = {r["inputs"]: r for r in results}
    for prompt in biased:
        assert by_prompt[prompt]["ratings"] == [5, 2] and by_prompt[prompt]["ratings_swapped"] == [2, 5]
        assert by_prompt[prompt]["position_consistent"] is False
    assert sum(r["position_consistent"] for r in results) == len(rows) - 2

    raw = build_raw(results, "r")
    dpo, drops = build_dpo(raw, config.curation)
    assert drops["position_inconsistent"] == 2
    assert set(dpo["chosen_model"]) == {"human"}
    quality = quality_stats(raw, dpo)
    assert quality["position_consistency"] == pytest.approx((len(rows) - 2) / len(rows), abs=1e-4)


def test_quality_stats_match_hand_counts() -> None:
    results = [
        _result("a", [5, 2]),
        _result("b", [2, 4]),
        _result("c", [3, 3]),
        _result("d", [None, None], status="failed"),
        _result("e", [1, 5], language_ok=False),
    ]
    raw = build_raw(results, "r")
    dpo, _ = build_dpo(raw, Curation())
    quality = quality_stats(raw, dpo)
    assert quality["rating_histogram"] == {"human": [1, 1, 1, 0, 1], "llm": [0, 1, 1, 1, 1]}
    assert quality["judged_rows"] == 4
    assert quality["wrong_language_rate"] == 0.2  # 1 of 5 generated answers
    assert quality["judge_failure_rate"] == 0.2  # row d: judge_rating_count
    assert quality["human_won_share"] == 0.5  # pairs a (human) and b (model)
    assert quality["mean_margin"] == 2.5
    assert quality["position_consistency"] is None  # swap judging is off


TYPO_BASE = [
    "Wat is het verschil tussen een rivier en een kanaal in Nederland?",  # 66 characters
    "Leg uit waarom de lucht overdag blauw is en 's avonds rood kleurt.",
    "Welke kaas komt oorspronkelijk uit de stad Gouda?",  # 49
    "Noem drie redenen om vaker de fiets te nemen.",  # 45
    "Schrijf een kort gedicht over de herfst in Utrecht en de grachten daar.",
    "Hoe maak je een eenvoudig pannenkoekenbeslag voor vier personen?",
    "¿Cuál es la diferencia entre el clima y el tiempo atmosférico hoy?",
    "富士山の高さはどれくらいですか？また、いつ登るのが一番良いですか？山頂からの景色も教えてください。",  # 48
]


def _one_edits(text: str) -> list[str]:
    """A dropped, an inserted, a replaced and a swapped letter, near the start, middle and end."""
    edits = []
    for where in (3, len(text) // 2, len(text) - 4):
        edits += [
            text[:where] + text[where + 1 :],
            text[:where] + "x" + text[where:],
            text[:where] + ("y" if text[where] != "y" else "z") + text[where + 1 :],
            text[:where] + text[where + 1] + text[where] + text[where + 2 :],
        ]
    return edits


@pytest.mark.parametrize("base", TYPO_BASE)
def test_a_one_character_edit_of_a_40_character_prompt_is_a_near_duplicate(base: str) -> None:
    assert len(base) >= 40
    for twin in _one_edits(base):
        assert near_duplicates([base, twin], 0.9) == [False, True], twin


def test_the_issue_case_a_dropped_letter_in_an_80_character_prompt() -> None:
    prompt = "Kun je uitleggen waarom de dijken in Nederland zo belangrijk zijn voor het hele land?"
    twin = prompt.replace("belangrijk", "belangrjk")
    assert 0.85 < similarity(prompt, twin) < 0.9  # under the Jaccard threshold on its own
    assert near_duplicates([prompt, twin], 0.9) == [False, True]


def test_templated_prompts_stay_apart() -> None:
    countries = ["France", "Spain", "Germany", "Italy", "Portugal", "Poland", "Greece", "Norway", "Sweden",
                 "Finland", "Denmark", "Austria", "Belgium", "Ireland", "Hungary", "Romania", "Bulgaria",
                 "Croatia", "Estonia", "Latvia", "Lithuania", "Slovakia", "Slovenia", "Cyprus", "Malta"]  # fmt: skip
    families = [
        [f"What is the capital of {country}?" for country in countries],
        [f"What is the capital city of {country}, and what is it known for?" for country in countries],
        [f"Wat is de hoofdstad van {land} en hoeveel mensen wonen daar ongeveer?" for land in countries],
        [
            f"Please calculate {a} times {b} and show every step of your working."
            for a, b in [(12, 47), (12, 48), (13, 47), (112, 47), (21, 47), (12, 74), (19, 47), (12, 41)]
        ],  # fmt: skip
        [
            f"Write a short poem about a {animal} for a child who is learning to read."
            for animal in (
                "cat",
                "dog",
                "horse",
                "cow",
                "goat",
                "sheep",
                "duck",
                "goose",
                "fox",
                "hare",
                "owl",
            )
        ],
    ]
    for family in families:
        assert not any(near_duplicates(family, 0.9)), family
    # The price of the typo rule: two names one letter apart in a long template are twins.
    ireland, iceland = (
        f"What is the capital city of {c}, and what is it known for?" for c in ("Ireland", "Iceland")
    )
    assert near_duplicates([ireland, iceland], 0.9) == [False, True]


def test_near_duplicate_results_on_a_fixed_corpus() -> None:
    corpus = [
        "Wat is het verschil tussen een rivier en een kanaal?",
        "wat is het verschil tussen een RIVIER en een kanaal",  # case and punctuation: duplicate of 0
        "Wat is het verschil tussen een rivier en een knaal?",  # one typo: duplicate of 0
        "Vraag 2: Wat is het verschil tussen een rivier en een kanaal?",  # Jaccard 0.81: stays
        "Wat is de hoofdstad van Friesland?",
        "Wat is de hoofdstad van Groningen?",  # template: stays
        "Wat is de hoofdstad van Frieslnd?",  # typo, but under 40 characters: stays
        "Leg in een paar zinnen uit hoe een windmolen water uit een polder wegpompt, en waarom dat nodig was.",
        "Leg in een paar zinnen uit hoe een windmolen water uit een polder wegpompt en waarom dat nodig was!!",
        # One word changed (Jaccard 0.88, three edits): a different prompt, stays.
        "Leg in een paar zinnen uit hoe een windmolen water uit de polder wegpompt, en waarom dat nodig was.",
        "",
        "😀😀",  # empty after folding, like the empty text: duplicate of 10
    ]
    sources = near_duplicate_sources(corpus, 0.9)
    assert sources == [None, 0, 0, None, None, None, None, None, 7, None, None, 10]
    assert similarity(corpus[0], corpus[3]) < 0.9 and similarity(corpus[7], corpus[9]) < 0.9


def test_only_a_kept_prompt_makes_a_later_one_a_duplicate() -> None:
    # A ~ B and B ~ C but A !~ C: B goes, and C stays because the only prompt it is close to is gone.
    a = "Wat zijn de drie grootste steden van Nederland en hoeveel inwoners hebben ze?"
    b = a.replace("steden", "stdeen")
    c = b.replace("grootste", "grotste")
    assert near_duplicate_sources([a, b, c], 0.99) == [None, 0, None]


def test_folding_matches_the_shingles_of_every_script(sample: pl.DataFrame) -> None:
    from tasks.filter.near_duplicates import SHINGLE, fold

    texts = [t for t in sample["inputs"].to_list() if t] + [
        "İstanbul'da ΣΟΦΟΣ",
        "a\u200bb\x1cc",
        "ﬁne_tuning २०२४",
    ]
    for text, folded in zip(texts, fold(pl.Series(texts)).to_list(), strict=True):
        grams = (
            {folded[i : i + SHINGLE] for i in range(len(folded) - SHINGLE + 1)}
            if len(folded) > SHINGLE
            else {folded} - {""}
        )
        assert grams == shingles(text), text


def test_the_filter_folds_its_keys_as_fold_does(sample: pl.DataFrame) -> None:
    """The filter folds its duplicate keys (`normalise`) with `fold_spaced` instead of folding the
    raw prompts again: the result must be `fold` exactly, punctuation runs and odd spaces included."""
    from tasks.filter.near_duplicates import fold, fold_spaced
    from tasks.filter.rules import normalise

    texts = (
        sample["inputs"].to_list()
        + sample["targets"].to_list()
        + [
            "İstanbul'da ΣΟΦΟΣ",
            "a\u200bb\x1cc",
            "ﬁne_tuning २०२४",
            "  ¿Qué  , ,  tal? ¡Bien! ",
            "x\u00a0-\u2003y\t\n!z",
            "...",
            "Ｆｕｌｌ　ｗｉｄｔｈ！？",
            None,
        ]
    )
    keys = pl.DataFrame({"text": texts}, schema={"text": pl.String}).select(normalise("text")).to_series()
    assert fold_spaced(keys).to_list() == fold(pl.Series(texts, dtype=pl.String)).to_list()
