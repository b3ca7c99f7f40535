"""A local OpenAI-compatible chat server for tests and benchmarks: real HTTP on 127.0.0.1, scripted answers.

Generation requests get an answer in the language the system prompt asks for; judge requests (the
UltraFeedback system prompt) get well-formed judgements. `script` hooks let a test return malformed
judgements, wrong-language answers or HTTP errors for chosen prompts; the server records every request
and the highest number it had in flight at once. A pre-flight probe (a 1-token request, `max_tokens: 1`)
is logged apart in `log.probes` and never goes through the script; `model_status` makes the server
refuse every request, probes included, that names a given model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# One canned answer per language, keyed by a word the config's system prompt contains.
ANSWERS = {
    "Nederlands": "Dat is een goede vraag. Het korte antwoord is dat het afhangt van de situatie, "
    "maar meestal helpt het om rustig stap voor stap te werk te gaan en goed te letten op de details.",
    "español": "Es una buena pregunta. La respuesta corta es que depende de la situación, pero "
    "normalmente ayuda avanzar paso a paso y prestar atención a los detalles.",
    "Kiswahili": "Hilo ni swali zuri sana. Jibu fupi ni kwamba inategemea hali, lakini mara nyingi "
    "inasaidia kufanya kazi hatua kwa hatua na kuzingatia mambo madogo.",
    "العربية": "هذا سؤال جيد. الجواب المختصر أن الأمر يعتمد على الظروف، لكن من المفيد عادة "
    "العمل خطوة بخطوة والانتباه إلى التفاصيل.",
    "हिंदी": "यह एक अच्छा प्रश्न है। छोटा उत्तर यह है कि यह स्थिति पर निर्भर करता है, लेकिन "
    "आम तौर पर कदम दर कदम काम करना और बारीकियों पर ध्यान देना मदद करता है।",
    "日本語": "良い質問ですね。短く答えると状況によりますが、一つずつ順番に進めて、細かい点に注意することが役に立ちます。",
    "Yorùbá": "Ìbéèrè tó dára ni èyí. Ìdáhùn kúkúrú ni pé ó sinmi lórí ipò nǹkan, ṣùgbọ́n ó máa ń ṣèrànwọ́ "
    "láti ṣe nǹkan ní ìgbésẹ̀ kọ̀ọ̀kan, kí a sì fiyè sí àwọn kúlẹ̀kúlẹ̀.",
    "Kinyarwanda": "Icyo ni ikibazo cyiza. Igisubizo kigufi ni uko biterwa n'imimerere, ariko akenshi "
    "bifasha gukora buhoro buhoro no kwita ku tuntu duto.",
    "norsk bokmål": "Det er et godt spørsmål. Det korte svaret er at det kommer an på situasjonen, men som "
    "regel hjelper det å gå fram steg for steg og følge godt med på detaljene.",
}
ENGLISH_ANSWER = "That is a good question. The short answer is that it depends on the situation."
JUDGE_MARKER = "evaluate text quality"


def well_formed_judgement(ratings: list[int]) -> str:
    """A judgement exactly in the UltraFeedback output format."""
    return "\n\n".join(
        f"#### Output for Text {i}\nRating: {rating}\nRationale: Clear and relevant, rated {rating}."
        for i, rating in enumerate(ratings, start=1)
    )


def default_ratings(user_text: str, count: int) -> list[int]:
    """Deterministic ratings spread over wins, losses and ties."""
    digest = hashlib.sha256(user_text.encode()).digest()
    return [digest[i] % 5 + 1 for i in range(count)]


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a burst of new connections would wait for SYN retries.
    request_queue_size = 1024


@dataclass
class Reply:
    """What the server sends back: a chat completion text, or an HTTP error."""

    text: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # The `error.message` of a non-200 reply's JSON body, as a real server would write it.
    error_message: str = "scripted failure"


Script = Callable[[str, str, list[dict[str, str]]], Reply | None]


@dataclass
class ServerLog:
    requests: list[dict[str, Any]] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)  # pre-flight probes, not in `requests`
    authorizations: set[str] = field(default_factory=set)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, kind: str | None = None) -> int:
        """Generation and judge requests (of one kind if given); `calls("probe")` counts the probes."""
        if kind == "probe":
            return len(self.probes)
        return sum(1 for r in self.requests if kind is None or r["kind"] == kind)


class OpenAIServer:
    """`with OpenAIServer() as server:` starts it on a free port; `server.base_url` ends in /v1."""

    def __init__(
        self,
        script: Script | None = None,
        latency: Callable[[], float] | None = None,
        model_status: dict[str, int] | None = None,
        answers_by_model: dict[str, str] | None = None,
        judge_seeds: dict[str, str] | None = None,
    ) -> None:
        self.script = script
        # model -> the answer every generation request naming that model gets (several generators).
        self.answers_by_model = answers_by_model or {}
        # judge model -> a seed its default ratings mix in, so judges of a panel disagree now and then.
        self.judge_seeds = judge_seeds or {}
        self.latency = latency
        # model -> HTTP status for every request naming that model (401: bad token, 404: unknown model).
        self.model_status = model_status or {}
        self.log = ServerLog()
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> OpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def answer(self, kind: str, user: str, messages: list[dict[str, str]], model: str = "") -> Reply:
        if model in self.model_status:
            return Reply(status=self.model_status[model], error_message=f"model {model} refused")
        if kind == "probe":
            return Reply("Hi")
        scripted = self.script(kind, user, messages) if self.script else None
        if scripted is not None:
            return scripted
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        if kind == "generate" and model in self.answers_by_model:
            return Reply(self.answers_by_model[model])
        if kind == "judge":
            found = re.search(r"and (\d+) text outputs", system)
            seeded = self.judge_seeds.get(model, "") + user
            return Reply(well_formed_judgement(default_ratings(seeded, int(found.group(1)) if found else 2)))
        for marker, text in ANSWERS.items():
            if marker in system:
                return Reply(text)
        return Reply(ENGLISH_ANSWER)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle's algorithm on, the client's
            # delayed ACK would add ~40 ms to every response.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                """`/stats`: requests seen and the most in flight at once; `/stats?reset=1` also resets."""
                with server.log.lock:
                    data = json.dumps(
                        {"requests": len(server.log.requests), "max_in_flight": server.log.max_in_flight}
                    ).encode()
                    if "reset=1" in self.path:
                        server.log.requests.clear()
                        server.log.max_in_flight = server.log.in_flight
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                messages = body.get("messages", [])
                system = next((m["content"] for m in messages if m["role"] == "system"), "")
                user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
                kind = "judge" if JUDGE_MARKER in system else "generate"
                if body.get("max_tokens") == 1:  # configs allow at least 16: only a probe asks for 1
                    kind = "probe"
                with server.log.lock:
                    server.log.in_flight += 1
                    server.log.max_in_flight = max(server.log.max_in_flight, server.log.in_flight)
                    (server.log.probes if kind == "probe" else server.log.requests).append(
                        {
                            "kind": kind,
                            "model": body.get("model"),
                            "user": user,
                            "time": time.monotonic(),
                            "retry": int(self.headers.get("x-stainless-retry-count") or 0),
                        }
                    )
                    server.log.authorizations.add(self.headers.get("Authorization", ""))
                try:
                    if server.latency:
                        time.sleep(server.latency())
                    reply = server.answer(kind, user, messages, body.get("model", ""))
                finally:
                    with server.log.lock:
                        server.log.in_flight -= 1
                # Counted out before the reply goes: a client that has its answer may send the next
                # request at once, which must not find this one still counted in flight.
                self._send(reply, body.get("model", ""))

            def _send(self, reply: Reply, model: str) -> None:
                if reply.status != 200:
                    payload = {"error": {"message": reply.error_message, "type": "server_error"}}
                else:
                    payload = {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": reply.text},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": 50,
                            "completion_tokens": len((reply.text or "").split()),
                            "total_tokens": 50 + len((reply.text or "").split()),
                        },
                    }
                data = json.dumps(payload).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def lognormal_latency(median: float, sigma: float, seed: int = 0) -> Callable[[], float]:
    """Latency with a long right tail, like real LLM endpoints: median `median`, shape `sigma`."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def draw() -> float:
        with lock:
            return rng.lognormvariate(math.log(median), sigma)

    return draw


def main() -> None:
    """Serve until killed; print the base URL on the first line. Used by the benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--median", type=float, default=0.0, help="median latency in seconds (0: none)")
    parser.add_argument("--sigma", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    latency = lognormal_latency(args.median, args.sigma, args.seed) if args.median > 0 else None
    with OpenAIServer(latency=latency) as server:
        print(server.base_url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
