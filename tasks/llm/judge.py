"""Stage 6, judge: rate the human answer and the LLM answer with distilabel's `UltraFeedback`.

distilabel's parser splits the judge's text on blank lines and reads one rating per piece, so a
preamble, a blank line inside a rationale or a bold `**Rating:**` shifts ratings onto the wrong
response or changes how many come back. `check_judgement` reads the sections by their headers
independently and accepts the ratings only when both readings agree, one integer 1-5 per response.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from distilabel.models.llms import AsyncLLM
from distilabel.steps.tasks import UltraFeedback

from languages.schema import Judge as JudgeSettings

ASPECT = "overall-rating"
_SECTION = re.compile(r"^#### Output for Text (\d+)[ \t]*$", re.MULTILINE)
_RATING = re.compile(r"^Rating:[ \t]*(\S+)", re.MULTILINE)

JUDGE_FAILURES = (
    "judge_no_output",
    "judge_rating_count",
    "judge_rating_invalid",
    "judge_sections",
    "judge_parser_disagrees",
    "judge_unparseable",
)


@dataclass(frozen=True)
class Judgement:
    """Ratings and rationales in the order of the responses, or the reason the judgement is unusable."""

    ratings: list[int | None]
    rationales: list[str | None]
    failure: str | None = None


def check_judgement(text: str | None, parsed: dict, expected: int) -> Judgement:
    """Accept distilabel's parse of a judge's text only if it is complete, in range and aligned."""
    ratings = list(parsed.get("ratings") or [])
    rationales = list(parsed.get("rationales") or [])
    if not text or not text.strip():
        return Judgement([None] * expected, [None] * expected, "judge_no_output")
    if len(ratings) != expected:
        return Judgement([None] * expected, [None] * expected, "judge_rating_count")
    if any(not isinstance(r, int) or isinstance(r, bool) or not 1 <= r <= 5 for r in ratings):
        return Judgement(_pad(ratings, expected), _pad(rationales, expected), "judge_rating_invalid")

    # Independent reading: sections numbered 1..N in order, each with exactly one `Rating:` line.
    headers = list(_SECTION.finditer(text))
    if [int(h.group(1)) for h in headers] != list(range(1, expected + 1)):
        return Judgement(_pad(ratings, expected), _pad(rationales, expected), "judge_sections")
    bodies = [
        text[h.end() : (headers[i + 1].start() if i + 1 < len(headers) else len(text))]
        for i, h in enumerate(headers)
    ]
    by_section: list[int | None] = []
    for body in bodies:
        found = _RATING.findall(body)
        by_section.append(int(found[0]) if len(found) == 1 and found[0].isdigit() else None)
    if by_section != ratings:
        return Judgement(_pad(ratings, expected), _pad(rationales, expected), "judge_parser_disagrees")
    return Judgement(ratings, _pad(rationales, expected))


def parse_judgement(task: UltraFeedback, text: str | None, row: dict) -> Judgement:
    """distilabel's parse of the judge's text, checked. Never raises: a text distilabel's parser
    chokes on (`Rating: abc` makes it index an empty list) is a judge failure like any other."""
    expected = len(row["generations"])
    try:
        parsed = task.format_output(text, row)
    except Exception:
        return Judgement([None] * expected, [None] * expected, "judge_unparseable")
    return check_judgement(text, parsed, expected)


def best_and_worst_indices(ratings: Sequence[float | None]) -> tuple[int, int] | None:
    """Where the best- and the worst-rated answer are (the UltraFeedback-binarized pick); unrated
    answers (None) are skipped. Ties go to the earlier answer, so the pick is stable; when every
    rating is equal the first is set against the next. None with fewer than two rated answers."""
    rated = [i for i, rating in enumerate(ratings) if rating is not None]
    if len(rated) < 2:
        return None
    best = max(rated, key=lambda i: (ratings[i], -i))
    worst = min(rated, key=lambda i: (ratings[i], i))
    if best == worst:
        worst = rated[1] if best == rated[0] else rated[0]
    return best, worst


def _pad(values: list, expected: int) -> list:
    return (values + [None] * expected)[:expected]


class Judge:
    """One UltraFeedback call per row: instruction plus responses in, checked ratings out."""

    def __init__(self, llm: AsyncLLM, settings: JudgeSettings) -> None:
        self.llm = llm
        self.settings = settings
        self.task = UltraFeedback(name="judge", llm=llm, aspect=ASPECT)
        self.task.load()

    @property
    def model_name(self) -> str:
        return self.llm.model_name

    async def judge(self, instruction: str, generations: list[str]) -> tuple[Judgement, dict]:
        """Rate the responses; returns the checked judgement and distilabel's token statistics."""
        row = {"instruction": instruction, "generations": generations}
        output = await self.llm.agenerate(
            input=self.task.format_input(row),
            max_new_tokens=self.settings.max_new_tokens,
            temperature=self.settings.temperature,
            top_p=self.settings.top_p,
        )
        text = output["generations"][0] if output["generations"] else None
        return parse_judgement(self.task, text, row), output.get("statistics", {})
