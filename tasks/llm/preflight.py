"""Before and around the LLM stage: what it cost (`LLMStats`), and the 1-token probes that find a
refused model or an unreachable endpoint before any answer is bought."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import openai
from distilabel.models.llms import AsyncLLM

from tasks.llm.client import probe_key

# Errors no retry can fix: every further call would fail the same way, so the stage stops.
FATAL_ERRORS = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)
# A probe that still fails this way after the client's retries: the endpoint is down or overloaded,
# so every row would fail too. Stopping costs nothing and the next run tries again.
UNREACHABLE_ERRORS = (openai.APIConnectionError, openai.InternalServerError, openai.RateLimitError)

logger = logging.getLogger(__name__)


class EndpointError(RuntimeError):
    """The LLM endpoint refuses every request (bad token, no access, unknown model) or cannot be reached."""


@dataclass
class LLMStats:
    """What the LLM stage cost: calls, retries, tokens and failures per role, probes, and wall time."""

    calls: Counter = field(default_factory=Counter)
    retries: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    input_tokens: Counter = field(default_factory=Counter)
    output_tokens: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    probe_calls: int = 0
    resumed_rows: int = 0
    resumed_generations: int = 0
    wrong_language_generations: int = 0
    seconds: float = 0.0

    def count_tokens(self, role: str, statistics: dict) -> None:
        self.input_tokens[role] += sum(t or 0 for t in statistics.get("input_tokens", []) or [])
        self.output_tokens[role] += sum(t or 0 for t in statistics.get("output_tokens", []) or [])

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "probe_calls": self.probe_calls,
            "retries": dict(self.retries),
            "call_errors": dict(self.errors),
            "input_tokens": dict(self.input_tokens),
            "output_tokens": dict(self.output_tokens),
            "failures": dict(sorted(self.failures.items())),
            "resumed_rows": self.resumed_rows,
            "resumed_generations": self.resumed_generations,
            "wrong_language_generations": self.wrong_language_generations,
            "seconds": round(self.seconds, 3),
        }


def error_detail(exc: BaseException) -> str:
    """The HTTP status and the error class, never the message: a server's error body may echo the
    request or a credential, and raw datasets may be public."""
    status = getattr(exc, "status_code", None)
    return f"HTTP {status} {type(exc).__name__}" if status else type(exc).__name__


def refused(exc: BaseException, role: str, model: str) -> EndpointError:
    return EndpointError(
        f"the {role} endpoint refused the request for model '{model}' ({error_detail(exc)}); "
        "check the token, the model name and --llm-base-url"
    )


async def preflight(roles: list[tuple[str, AsyncLLM]], stats: LLMStats) -> None:
    """One 1-token request per distinct (base URL, model, key) among `roles`, before any answer is bought.

    A refused model or an endpoint that stays unreachable after the client's retries raises
    EndpointError naming role and model. Other errors (a 400 or 422 on the probe itself) let the
    stage go ahead: they say nothing about the real requests, which fail or stop per row.
    """
    groups: dict[tuple[str, str, str], tuple[list[str], AsyncLLM]] = {}
    for role, llm in roles:
        key = probe_key(llm)
        if key is not None:
            groups.setdefault(key, ([], llm))[0].append(role)
    if not groups:
        return
    stats.probe_calls += len(groups)
    outcomes = await asyncio.gather(*(llm.probe() for _, llm in groups.values()), return_exceptions=True)
    for (names, llm), outcome in zip(groups.values(), outcomes, strict=True):
        role = " and ".join(names)
        if isinstance(outcome, FATAL_ERRORS):
            raise refused(outcome, role, llm.model_name) from outcome
        if isinstance(outcome, UNREACHABLE_ERRORS):
            raise EndpointError(
                f"the {role} endpoint did not answer a 1-token probe for model '{llm.model_name}' "
                f"({error_detail(outcome)}, after {llm.max_retries} retries); no answer was bought"
            ) from outcome
        if isinstance(outcome, openai.APIStatusError):
            logger.warning(
                "the %s probe for model '%s' got %s; going ahead",
                role,
                llm.model_name,
                error_detail(outcome),
            )
        elif isinstance(outcome, BaseException):
            raise outcome
