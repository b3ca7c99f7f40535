"""The LLM clients: any OpenAI-compatible server through distilabel's `OpenAILLM`, or the offline placeholder.

The Hugging Face router, Inference Endpoints, vLLM, TGI and Ollama all speak the OpenAI chat API, so
one client covers every provider; `--llm-base-url` and `--llm-model` point it anywhere.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx2
from distilabel.models.llms import AsyncLLM, OpenAILLM
from distilabel.models.llms.utils import prepare_output
from distilabel.typing import FormattedInput, GenerateOutput
from openai import AsyncOpenAI, DefaultAioHttpClient
from pydantic import PrivateAttr

from languages.schema import Endpoint
from tasks.state.status import PLACEHOLDER_MODEL

PLACEHOLDER_NOTE = "[offline placeholder: no LLM was called]"
NO_KEY = "no-key-needed"  # servers that check no key still need the header filled
_TEXT_COUNT = re.compile(r"and (\d+) text outputs")


class CredentialsError(RuntimeError):
    """No token for an endpoint that needs one; raised before any LLM call."""


@dataclass(frozen=True)
class EndpointChoice:
    """Where requests go: the config's endpoint with any command-line overrides applied.

    `operator_url` is true when the base URL came from the command line (`--llm-base-url`), not from a
    language config: only then may OPENAI_API_KEY go to it without OPENAI_BASE_URL naming it.
    """

    model: str
    base_url: str
    offline: bool = False
    # Not part of the repr: the journal's recipe fingerprint is built from it and must not change.
    operator_url: bool = field(default=False, repr=False, compare=False)


# A plain network location: lower-case host name and an optional port. Anything else (user info, a
# backslash, brackets, non-ASCII) is a URL that parsers may read differently, so it gets no credential.
_PLAIN_NETLOC = re.compile(r"[a-z0-9.-]+(:[0-9]{1,5})?")
_HF_DOMAINS = (".huggingface.co", ".huggingface.cloud")
_DEFAULT_PORTS = {"https": 443, "http": 80}
_logger = logging.getLogger(__name__)


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL with a plain network location, else None."""
    if any(not char.isascii() or not char.isprintable() or char.isspace() for char in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not _PLAIN_NETLOC.fullmatch(parts.netloc.lower()):
        return None
    return scheme, (parts.hostname or ""), port or _DEFAULT_PORTS[scheme]


def is_hugging_face_host(base_url: str) -> bool:
    """Whether `base_url` is Hugging Face: https on port 443 to huggingface.co or a host under
    huggingface.co or huggingface.cloud (Inference Endpoints). The HF token goes nowhere else."""
    where = origin(base_url)
    if where is None:
        return False
    scheme, host, port = where
    return scheme == "https" and port == 443 and (host == "huggingface.co" or host.endswith(_HF_DOMAINS))


def _openai_key_allowed(base_url: str, operator_url: bool) -> bool:
    """OPENAI_API_KEY goes to the endpoint OPENAI_BASE_URL names (same scheme, host and port) or to an
    endpoint given on the command line; never to a URL that only a language config names."""
    where = origin(base_url)
    if where is None:
        return False
    if operator_url:
        return True
    configured = os.environ.get("OPENAI_BASE_URL")
    return configured is not None and origin(configured) == where


def api_key_for(base_url: str, operator_url: bool = False) -> str:
    """The key for an endpoint: huggingface_hub's token for Hugging Face, else OPENAI_API_KEY where allowed.

    A language config may come from a pull request, so a URL in it must not collect the worker's
    secrets: the HF token goes only to Hugging Face over https, OPENAI_API_KEY only to the endpoint
    the operator named. Everything else (vLLM, TGI, Ollama, the test server) gets a fixed dummy key.
    """
    if is_hugging_face_host(base_url):
        from huggingface_hub import get_token

        token = get_token()
        if not token:
            raise CredentialsError(
                f"{base_url} needs a Hugging Face token: set HF_TOKEN or run `hf auth login` "
                "(or use --offline for a dry run, or --llm-base-url for another server)"
            )
        return token
    key = os.environ.get("OPENAI_API_KEY")
    if key and _openai_key_allowed(base_url, operator_url):
        return key
    if key:
        _logger.warning(
            "OPENAI_API_KEY is not sent to %s: it goes only to the endpoint OPENAI_BASE_URL names "
            "or to one given with --llm-base-url",
            urlsplit(base_url).hostname or base_url,
        )
    return NO_KEY


class PlaceholderLLM(AsyncLLM):
    """A deterministic stand-in for `--offline` dry runs: every text it writes says it is a placeholder.

    As generator it restates the prompt (so the language check sees the right language); as judge it
    writes well-formed UltraFeedback sections with ratings derived from a hash of the request.
    """

    role: str = "generator"

    def load(self) -> None:
        super().load()

    @property
    def model_name(self) -> str:
        return PLACEHOLDER_MODEL

    async def agenerate(  # type: ignore[override]
        self,
        input: FormattedInput,
        num_generations: int = 1,
        max_new_tokens: int = 128,
        temperature: float = 1.0,
        top_p: float = 1.0,
    ) -> GenerateOutput:
        user = next(m["content"] for m in reversed(input) if m["role"] == "user")  # type: ignore[index]
        if self.role == "judge":
            system = next((m["content"] for m in input if m["role"] == "system"), "")  # type: ignore[index]
            count = int(match.group(1)) if (match := _TEXT_COUNT.search(system)) else 2
            sections = []
            for index in range(1, count + 1):
                digest = hashlib.sha256(f"{index}\x1f{user}".encode()).digest()
                sections.append(
                    f"#### Output for Text {index}\nRating: {digest[0] % 5 + 1}\n"
                    f"Rationale: {PLACEHOLDER_NOTE} Placeholder rating."
                )
            text = "\n\n".join(sections)
        else:
            text = f"{PLACEHOLDER_NOTE} {user.strip()}"
        words = len(text.split())
        return {
            "generations": [text] * num_generations,
            "statistics": {"input_tokens": [len(user.split())], "output_tokens": [words]},
        }


class OpenAICompatibleLLM(OpenAILLM):
    """distilabel's `OpenAILLM`, lean on CPU and counting the HTTP requests it sends.

    Requests go through the OpenAI client's generic `post` (its documented way to send any body):
    same connection pool, same retries (exponential backoff with jitter on 408, 409, 429, 5xx,
    timeouts and dropped connections, honouring `Retry-After`), but without the SDK's per-request
    type-driven transform of the body, which was the largest CPU cost at hundreds of requests per
    second (benchmarks/llm_stage.py). The aiohttp transport is the SDK's faster one under concurrency.
    Retries are told apart from first attempts by the `x-stainless-retry-count` header the client sets.
    """

    _requests: Counter = PrivateAttr(default_factory=Counter)

    def load(self) -> None:
        super().load()

        async def count(request: object) -> None:
            retry = getattr(request, "headers", {}).get("x-stainless-retry-count", "0")
            self._requests["retries" if retry not in ("", "0") else "first_attempts"] += 1

        self._aclient = AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.api_key.get_secret_value(),
            max_retries=self.max_retries,
            timeout=self.timeout,
            default_headers=self.default_headers,
            http_client=DefaultAioHttpClient(event_hooks={"request": [count]}),
        )

    async def agenerate(  # type: ignore[override]
        self,
        input: FormattedInput,
        num_generations: int = 1,
        max_new_tokens: int = 128,
        temperature: float = 1.0,
        top_p: float = 1.0,
        stop: str | list[str] | None = None,
    ) -> GenerateOutput:
        body: dict[str, object] = {
            "model": self.model,
            "messages": input,
            "n": num_generations,
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "top_p": top_p,
        }
        if stop is not None:
            body["stop"] = stop
        response = await self._aclient.post("/chat/completions", body=body, cast_to=httpx2.Response)
        data = response.json()
        usage = data.get("usage") or {}
        return prepare_output(
            generations=[(choice.get("message") or {}).get("content") for choice in data.get("choices", [])],
            input_tokens=[usage.get("prompt_tokens", 0)],
            output_tokens=[usage.get("completion_tokens", 0)],
        )

    async def probe(self) -> None:
        """One 1-token chat completion: raises the client's error when the endpoint refuses the model.

        Sent before a stage buys answers, so a bad token or model name costs one token, not a run.
        """
        body = {"model": self.model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
        await self._aclient.post("/chat/completions", body=body, cast_to=httpx2.Response)

    @property
    def retries(self) -> int:
        return self._requests["retries"]

    async def aclose(self) -> None:
        """Close the HTTP connections inside the event loop that opened them."""
        await self._aclient.close()


def build_llm(endpoint: Endpoint, choice: EndpointChoice, role: str) -> AsyncLLM:
    """A loaded distilabel LLM for the generator or the judge."""
    if choice.offline:
        llm: AsyncLLM = PlaceholderLLM(role=role)
    else:
        llm = OpenAICompatibleLLM(
            model=choice.model,
            base_url=choice.base_url,
            api_key=api_key_for(choice.base_url, choice.operator_url),
            max_retries=endpoint.max_retries,
            timeout=endpoint.timeout_seconds,
        )
    llm.load()
    return llm


def probe_key(llm: AsyncLLM) -> tuple[str, str, str] | None:
    """What tells two clients' endpoints apart: base URL, model and a hash of the key (never the key).

    None for the offline placeholder, which needs no probe.
    """
    if not isinstance(llm, OpenAICompatibleLLM):
        return None
    key = hashlib.sha256(llm.api_key.get_secret_value().encode()).hexdigest()[:16]
    return str(llm.base_url), llm.model, key


def retries_of(llm: AsyncLLM) -> int:
    return getattr(llm, "retries", 0)


async def close_llm(llm: AsyncLLM) -> None:
    if isinstance(llm, OpenAICompatibleLLM):
        await llm.aclose()


def resolve_endpoint(
    endpoint: Endpoint, base_url: str | None = None, model: str | None = None, offline: bool = False
) -> EndpointChoice:
    """Command-line overrides win over the config; `--offline` wins over both."""
    if offline:
        return EndpointChoice(model=PLACEHOLDER_MODEL, base_url="offline", offline=True)
    return EndpointChoice(
        model=model or endpoint.model,
        base_url=base_url or endpoint.base_url,
        operator_url=base_url is not None,
    )


def resolve_endpoints(
    endpoint: Endpoint, base_url: str | None = None, model: str | None = None, offline: bool = False
) -> list[EndpointChoice]:
    """One choice per configured model (`models`, or `model`); `--llm-model` and `--offline` make it one."""
    if offline or model is not None:
        return [resolve_endpoint(endpoint, base_url, model, offline)]
    return [resolve_endpoint(endpoint, base_url, name) for name in endpoint.model_ids]
