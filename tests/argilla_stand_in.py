"""A local stand-in for an Argilla 2.8 server: the REST calls the `argilla` SDK makes for a review sync,
answered from memory on 127.0.0.1, plus the annotators' route for their responses.

argilla-server needs Elasticsearch or OpenSearch, which cannot run on the build machines, so the
adapter (tasks/review/argilla.py) is tested against this instead. The routes are the ones the SDK
calls (argilla 2.8.0, `argilla/_api/`), their rules those of argilla-server 2.8.0 (tests/argilla_
stand_in_api.py lists them): API keys in `X-Argilla-Api-Key`, errors as `{"detail": ...}`. It is not
the real server: no search engine, no UI, only text fields and label questions.

`with ArgillaStandIn() as server:` gives `server.url`, `server.api_key` (the owner's), `server.requests`
(each request's method, path, query, body and status, in order) and helpers to act as people do.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.argilla_stand_in_api import ID, ArgillaApi, Refused

__all__ = ["ArgillaStandIn", "Refused"]


class ArgillaStandIn(ArgillaApi):
    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.api_key = self.add_user("owner", role="owner")

    # -- acting as people do --------------------------------------------------------------------------

    def add_user(self, username: str, role: str = "annotator", workspace: str | None = None) -> str:
        """A user with an API key (returned); `workspace` (created if missing) takes them as a member,
        as a Space's Hugging Face sign-in does for the `argilla` workspace."""
        with self.lock:
            now = self.now()
            user = {
                "id": str(uuid.uuid4()), "username": username, "first_name": username, "last_name": None,
                "role": role, "api_key": uuid.uuid4().hex, "inserted_at": now, "updated_at": now,
            }  # fmt: skip
            self.users[user["id"]], self.keys[user["api_key"]] = user, user["id"]
            if workspace is not None:
                found = [w for w in self.workspaces.values() if w["name"] == workspace]
                self.members[(found[0] if found else self.new_workspace(workspace))["id"]].add(user["id"])
        return user["api_key"]

    def record_of(self, pair: str) -> dict[str, Any]:
        (record,) = [r for r in self.records.values() if r["external_id"] == pair]
        return record

    def annotate(self, api_key: str, pair: str, choice: str | None, status: str = "submitted") -> dict:
        """What Argilla's page does when a person picks a label and clicks Submit (or Discard, or
        leaves a draft): creates their response over HTTP with their key, or changes the one they have."""
        record, user_id = self.record_of(pair), self.keys[api_key]
        body = {"values": {"preference": {"value": choice}} if choice else None, "status": status}
        mine = [
            r for r in self.responses.values() if r["record_id"] == record["id"] and r["user_id"] == user_id
        ]
        with httpx.Client(base_url=self.url, headers={"X-Argilla-Api-Key": api_key}) as person:
            if mine:
                answer = person.put(f"/api/v1/responses/{mine[0]['id']}", json=body)
            else:
                answer = person.post(f"/api/v1/records/{record['id']}/responses", json=body)
        answer.raise_for_status()
        return answer.json()

    def routes_called(self) -> list[str]:
        """'METHOD /path' of each request so far, UUIDs written as {id}."""
        return [f"{r['method']} {re.sub(ID, '{id}', r['path'])}" for r in self.requests]

    # -- the HTTP server ------------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict, raw: bytes, key: str | None) -> tuple[int, Any]:
        body = json.loads(raw) if raw else None
        entry = {"method": method, "path": path, "query": query, "body": body}
        with self.lock:
            self.requests.append(entry)
            try:
                status, payload = self.dispatch(
                    self.users.get(self.keys.get(key or "", "")), method, path, body, query
                )
            except Refused as refusal:
                status, payload = refusal.status, {"detail": refusal.detail}
            entry["status"] = status
            return status, payload

    def __enter__(self) -> ArgillaStandIn:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def handle_one(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                key = self.headers.get("X-Argilla-Api-Key")
                status, payload = stand_in.answer(self.command, parts.path, parse_qs(parts.query), raw, key)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
