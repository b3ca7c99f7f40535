"""A real Label Studio server for the review tests: its own virtualenv, SQLite, bound to 127.0.0.1.

`make labelstudio` builds `.venv-labelstudio` (label-studio pins pyarrow, openai and pytz apart from
ours) and a migrated empty database, which each test session copies into a fresh data folder: the
first start then takes seconds, not the minutes of Django's migrations. The admin's legacy API token
is fixed when the organisation is created, at the first start; annotators sign up through the web
form like people do and read their own token.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-labelstudio"
TEMPLATE = VENV / "template" / "label_studio.sqlite3"
ADMIN = "admin@example.org"


def available() -> str | None:
    """Why the server cannot run here, or None when it can."""
    if not (VENV / "bin" / "label-studio").is_file() or not TEMPLATE.is_file():
        return f"{VENV.name} is missing: run `make labelstudio`"
    return None


@contextmanager
def running(prefix: str) -> Iterator[LabelStudioServer]:
    """A server on a fresh data folder, removed afterwards. `make test` builds the environment, so a
    missing one fails the test rather than skipping it. The folder is in memory (/dev/shm) where
    there is one: SQLite syncs every write to disk, and in memory the votes go in 3x faster."""
    missing = available()
    if missing:
        pytest.fail(missing)
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=shm if shm.is_dir() else None))
    try:
        with LabelStudioServer(folder) as server:
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LabelStudioServer:
    """Start with `with LabelStudioServer(folder) as server:`; `server.url`, `server.token` (admin),
    and `server.password` for the admin's (ADMIN) login to the web pages."""

    def __init__(self, folder: Path, start_seconds: float = 240.0) -> None:
        self.folder, self.start_seconds = folder, start_seconds
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(20)
        self.password = secrets.token_urlsafe(16)
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> LabelStudioServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(TEMPLATE, self.folder / "label_studio.sqlite3")
        environment = {
            "PATH": f"{VENV / 'bin'}:/usr/bin:/bin",
            "HOME": str(self.folder),
            "LANG": "C.UTF-8",
            "LABEL_STUDIO_BASE_DATA_DIR": str(self.folder),
            "DJANGO_DB": "sqlite",
            "LATEST_VERSION_CHECK": "false",
            "COLLECT_ANALYTICS": "false",
            "SENTRY_DSN": "",
            "FRONTEND_SENTRY_DSN": "",
            "LABEL_STUDIO_USERNAME": ADMIN,
            "LABEL_STUDIO_PASSWORD": self.password,
            "LABEL_STUDIO_USER_TOKEN": self.token,
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            "SECRET_KEY": secrets.token_urlsafe(40),
        }
        log = (self.folder / "server.log").open("ab")
        self.process = subprocess.Popen(
            [
                str(VENV / "bin" / "label-studio"),
                "start",
                "--no-browser",
                "--internal-host",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--data-dir",
                str(self.folder),
                "--enable-legacy-api-token",
                "--log-level",
                "WARNING",
            ],  # fmt: skip
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group, stopped whole
        )
        deadline = time.monotonic() + self.start_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Label Studio exited at start; see {self.folder / 'server.log'}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"Label Studio did not answer within {self.start_seconds:.0f} s")

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def annotator(self, email: str) -> httpx.Client:
        """A person who signs up through the web form; the client speaks the API with their own token."""
        password = secrets.token_urlsafe(12)
        with httpx.Client(base_url=self.url, timeout=60) as browser:
            browser.get("/user/signup/")
            browser.post(
                "/user/signup/",
                data={
                    "email": email,
                    "password": password,
                    "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                },
                headers={"Referer": f"{self.url}/user/signup/"},
            )
            token = browser.get("/api/current-user/token").json()["token"]
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Token {token}"}, timeout=60)


def vote(annotator: httpx.Client, task_id: int, side: str | None, cancelled: bool = False) -> dict:
    """Submit one annotation as the labelling page does (`to_name` is the Pairwise tag's own name):
    `side` answer_a (left), answer_b (right), or None with `cancelled` (a skip)."""
    result = (
        [{"from_name": "preference", "to_name": "preference", "type": "pairwise",
          "value": {"selected": {"answer_a": "left", "answer_b": "right"}[side]}}]
        if side
        else []
    )  # fmt: skip
    response = annotator.post(
        f"/api/tasks/{task_id}/annotations/", json={"result": result, "was_cancelled": cancelled}
    )
    response.raise_for_status()
    return response.json()
