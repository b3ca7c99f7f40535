"""Credentials: the HF token goes only to Hugging Face over https, OPENAI_API_KEY only where the operator
pointed it. A language config can come from a pull request, so a URL in it must collect no secret."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from languages.schema import load_language
from tasks.llm.client import (
    NO_KEY,
    CredentialsError,
    api_key_for,
    build_llm,
    close_llm,
    is_hugging_face_host,
    resolve_endpoint,
)

HF_TOKEN = "hf_FakeTokenForCredentialTests0123456789"
OPENAI_KEY = "sk-fake-key-for-credential-tests-42"


@pytest.mark.parametrize(
    "url",
    [
        "https://router.huggingface.co/v1",
        "https://huggingface.co/api/inference-proxy/together/v1",
        "HTTPS://Router.HuggingFace.CO/v1",
        "https://router.huggingface.co:443/v1",
        "https://my-endpoint.us-east-1.aws.endpoints.huggingface.cloud/v1/",
    ],
)
def test_hugging_face_hosts(url: str) -> None:
    assert is_hugging_face_host(url)


LOOK_ALIKES = [
    "http://router.huggingface.co/v1",  # no TLS: the token would cross the network in clear
    "https://huggingface.co.attacker.example/v1",  # a suffix after the real name
    "https://router.huggingface.co.attacker.example/v1",
    "https://huggingface.cloud.attacker.example/v1",
    "https://evilhuggingface.co/v1",  # not a subdomain
    "https://attacker.example/huggingface.co/v1",  # in the path
    "https://attacker.example/v1?huggingface.co",  # in the query
    "https://attacker.example/v1#.huggingface.co",
    "https://huggingface.co@attacker.example/v1",  # user info: the host is attacker.example
    "https://huggingface.co:443@attacker.example/v1",
    "https://user:secret@router.huggingface.co/v1",  # user info at all: parsers disagree on it
    "https://attacker.example\\@router.huggingface.co/v1",  # WHATWG reads the backslash as a slash
    "https://router.huggingface.co:8443/v1",  # another port: another service
    "https://router.huggingface.co:0443x/v1",
    "https://router.huggingface.co\n.attacker.example/v1",  # urlsplit drops the newline
    "https://router.huggingfacе.co/v1",  # a Cyrillic е
    "https://[::1]/huggingface.co/v1",
    "ftp://router.huggingface.co/v1",
    "router.huggingface.co/v1",
    "",
]


@pytest.mark.parametrize("url", LOOK_ALIKES)
def test_look_alikes_are_not_hugging_face(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", HF_TOKEN)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert not is_hugging_face_host(url)
    assert api_key_for(url) == NO_KEY


def test_hugging_face_gets_the_token_and_never_the_openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", HF_TOKEN)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "https://router.huggingface.co/v1")
    assert api_key_for("https://router.huggingface.co/v1") == HF_TOKEN
    assert api_key_for("https://router.huggingface.co/v1", operator_url=True) == HF_TOKEN


def test_hugging_face_without_a_token_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    with pytest.raises(CredentialsError, match="needs a Hugging Face token"):
        api_key_for("https://router.huggingface.co/v1")


@pytest.mark.parametrize(
    ("url", "openai_base_url", "operator_url", "sent"),
    [
        ("https://llm.example.org/v1", "https://llm.example.org/v1", False, True),
        ("https://llm.example.org/other/v1", "https://LLM.example.org:443/v1", False, True),  # same origin
        ("http://127.0.0.1:8000/v1", None, True, True),  # --llm-base-url: the operator chose it
        ("https://attacker.example/v1", None, False, False),  # only a config names it
        ("https://attacker.example/v1", "https://llm.example.org/v1", False, False),
        ("https://llm.example.org.attacker.example/v1", "https://llm.example.org/v1", False, False),
        ("http://llm.example.org/v1", "https://llm.example.org/v1", False, False),  # other scheme
        ("https://llm.example.org:8443/v1", "https://llm.example.org/v1", False, False),  # other port
        ("https://llm.example.org@attacker.example/v1", "https://llm.example.org/v1", False, False),
        ("https://llm.example.org@attacker.example/v1", None, True, False),  # even from the command line
    ],
)
def test_openai_key_goes_only_to_the_endpoint_the_operator_named(
    url: str, openai_base_url: str | None, operator_url: bool, sent: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("HF_TOKEN", HF_TOKEN)
    if openai_base_url is None:
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    else:
        monkeypatch.setenv("OPENAI_BASE_URL", openai_base_url)
    assert api_key_for(url, operator_url) == (OPENAI_KEY if sent else NO_KEY)


def test_a_withheld_key_is_logged_without_the_key(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with caplog.at_level(logging.WARNING, logger="tasks.llm.client"):
        assert api_key_for("https://attacker.example/v1") == NO_KEY
    assert "OPENAI_API_KEY is not sent to attacker.example" in caplog.text
    assert OPENAI_KEY not in caplog.text


def test_command_line_url_is_marked_as_the_operators_and_keeps_the_fingerprint() -> None:
    config = load_language("nld")
    from_config = resolve_endpoint(config.generation)
    from_command_line = resolve_endpoint(config.generation, base_url=config.generation.base_url)
    assert not from_config.operator_url and from_command_line.operator_url
    # The journal fingerprints the choice by its text: the same URL must give the same recipe.
    assert str(from_config) == str(from_command_line)


class _Capture(ThreadingHTTPServer):
    """Records every request's raw head and body; answers like an OpenAI chat endpoint."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                capture.seen.append(f"{self.requestline}\n{self.headers}\n{body.decode('utf-8', 'replace')}")
                reply = json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": "m",
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": "ok"},
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]


@pytest.fixture
def capture() -> Iterator[_Capture]:
    server = _Capture()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _call(base_url: str, operator_url: bool = False) -> None:
    """One real chat request through the client a run uses, with the key `api_key_for` picks."""
    config = load_language("nld")
    choice = resolve_endpoint(config.generation, base_url=base_url, model="m")
    if not operator_url:  # as if the URL came from a language config
        choice = type(choice)(model=choice.model, base_url=choice.base_url)
    llm = build_llm(config.generation.model_copy(update={"max_retries": 0}), choice, "generator")

    async def send() -> None:
        try:
            await llm.agenerate([{"role": "user", "content": "hallo"}])
        finally:
            await close_llm(llm)

    asyncio.run(send())


@pytest.mark.parametrize(
    ("template", "arrives"),
    [
        ("http://127.0.0.1:{port}/huggingface.co/v1", True),  # the example: in the path
        ("http://127.0.0.1:{port}/v1?x=.huggingface.co", True),
        ("http://localhost:{port}/v1#huggingface.cloud", True),
        # User info naming Hugging Face: the client refuses to combine it with a key; nothing is sent.
        ("http://router.huggingface.co@127.0.0.1:{port}/v1", False),
    ],
)
def test_no_secret_reaches_a_look_alike_server(
    template: str, arrives: bool, capture: _Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", HF_TOKEN)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    if arrives:
        _call(template.format(port=capture.port))
    else:
        with pytest.raises(ValueError, match="credentials encoded in URL"):
            _call(template.format(port=capture.port))
    assert len(capture.seen) == int(arrives)
    for seen in capture.seen:  # the request arrived, with no secret in its head or body
        assert HF_TOKEN not in seen and OPENAI_KEY not in seen
        assert f"Bearer {NO_KEY}" in seen


def test_the_key_reaches_the_endpoint_the_operator_named(
    capture: _Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", HF_TOKEN)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    _call(f"http://127.0.0.1:{capture.port}/v1", operator_url=True)
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{capture.port}/v1")
    _call(f"http://127.0.0.1:{capture.port}/v1")  # named by OPENAI_BASE_URL, from a config
    assert len(capture.seen) == 2
    assert all(f"Bearer {OPENAI_KEY}" in seen and HF_TOKEN not in seen for seen in capture.seen)
