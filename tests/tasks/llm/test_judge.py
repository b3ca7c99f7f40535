"""Judge validation against distilabel's real UltraFeedback parser, including the ways it misaligns."""

from __future__ import annotations

import asyncio

import pytest
from distilabel.steps.tasks import UltraFeedback

from languages.schema import LanguageConfig
from tasks.llm.client import build_llm, resolve_endpoint
from tasks.llm.judge import Judge, check_judgement
from tests.openai_server import OpenAIServer, Reply, well_formed_judgement


@pytest.fixture(scope="module")
def parser() -> UltraFeedback:
    # format_output needs no model; the placeholder only satisfies the constructor.
    from tasks.llm.client import PlaceholderLLM

    task = UltraFeedback(name="judge", llm=PlaceholderLLM(role="judge"), aspect="overall-rating")
    task.load()
    return task


def judge_text(parser: UltraFeedback, text: str | None, count: int = 2):
    parsed = parser.format_output(text, {"instruction": "q", "generations": ["a"] * count})
    return check_judgement(text, parsed, count)


def test_well_formed_judgement_is_accepted(parser: UltraFeedback) -> None:
    result = judge_text(parser, well_formed_judgement([2, 5]))
    assert result.failure is None
    assert result.ratings == [2, 5]
    assert result.rationales == ["Clear and relevant, rated 2.", "Clear and relevant, rated 5."]


def test_preamble_is_a_failure_not_a_shift(parser: UltraFeedback) -> None:
    text = "Here is my evaluation of the two texts.\n\n" + well_formed_judgement([2, 5])
    parsed = parser.format_output(text, {"instruction": "q", "generations": ["a", "b"]})
    assert parsed["ratings"] == [None, 2, 5]  # distilabel's parse: one rating too many, shifted
    result = check_judgement(text, parsed, 2)
    assert result.failure == "judge_rating_count"
    assert result.ratings == [None, None]


def test_blank_line_inside_a_rationale(parser: UltraFeedback) -> None:
    text = (
        "#### Output for Text 1\nRating: 4\nRationale: Good start.\n\nBut the ending is weak.\n\n"
        "#### Output for Text 2\nRating: 3\nRationale: Fine."
    )
    assert judge_text(parser, text).failure == "judge_rating_count"


def test_bold_rating_label(parser: UltraFeedback) -> None:
    text = "#### Output for Text 1\n**Rating:** 4\nRationale: Good.\n\n#### Output for Text 2\nRating: 2\nRationale: Weak."
    result = judge_text(parser, text)
    assert result.failure == "judge_rating_invalid"


def test_fewer_ratings_than_responses(parser: UltraFeedback) -> None:
    result = judge_text(parser, "#### Output for Text 1\nRating: 4\nRationale: Only one was rated.")
    assert result.failure == "judge_rating_count"


def test_sections_out_of_order_are_rejected(parser: UltraFeedback) -> None:
    text = (
        "#### Output for Text 2\nRating: 5\nRationale: B.\n\n#### Output for Text 1\nRating: 1\nRationale: A."
    )
    result = judge_text(parser, text)
    assert result.failure == "judge_sections"


@pytest.mark.parametrize("rating", ["7", "0", "N/A"])
def test_ratings_outside_one_to_five(parser: UltraFeedback, rating: str) -> None:
    text = f"#### Output for Text 1\nRating: {rating}\nRationale: A.\n\n#### Output for Text 2\nRating: 3\nRationale: B."
    assert judge_text(parser, text).failure == "judge_rating_invalid"


def test_rating_line_repeated_inside_a_section(parser: UltraFeedback) -> None:
    text = (
        "#### Output for Text 1\nRating: 4\nRationale: A.\nRating: 2\n\n"
        "#### Output for Text 2\nRating: 3\nRationale: B."
    )
    assert judge_text(parser, text).failure == "judge_parser_disagrees"


@pytest.mark.parametrize("text", [None, "", "   \n"])
def test_no_output(parser: UltraFeedback, text: str | None) -> None:
    assert judge_text(parser, text).failure == "judge_no_output"


def test_judge_over_real_http(dutch: LanguageConfig) -> None:
    def script(kind: str, user: str, messages: list) -> Reply | None:
        return Reply(well_formed_judgement([1, 5])) if kind == "judge" else None

    with OpenAIServer(script) as server:
        choice = resolve_endpoint(dutch.judge, base_url=server.base_url, model="judge-model")
        judge = Judge(build_llm(dutch.judge, choice, "judge"), dutch.judge)
        judgement, statistics = asyncio.run(judge.judge("Wat is water?", ["Water is nat.", "H2O."]))
    assert judgement.ratings == [1, 5]
    assert judgement.failure is None
    assert statistics["input_tokens"] == [50]
    (request,) = server.log.requests
    assert request["model"] == "judge-model"
    assert "<text 1> Water is nat." in request["user"]
