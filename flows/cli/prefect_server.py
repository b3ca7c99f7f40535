"""Prefect as the CLI wants it: settings, the temporary server started early, and stopped with the CLI."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

GUARD = Path(__file__).with_name("server_guard.py")
# Kept for the life of the command: a collected Popen of a running process warns.
_GUARDS: list[subprocess.Popen[bytes]] = []


def configure_prefect(verbose: bool) -> None:
    """Prefect as the CLI wants it; set before Prefect is imported.

    The CLI prints its own summary and error lines; Prefect's console log is for --verbose. Logs
    still reach the Prefect API (and its UI) either way. The other settings only matter to the
    temporary server this command starts when no PREFECT_API_URL is set.
    """
    warnings.filterwarnings("ignore", module=r"pydantic\..*")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    # distilabel warns that standalone tasks have no Pipeline: they are meant to run standalone here.
    logging.getLogger("distilabel").setLevel(logging.ERROR)
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "INFO" if verbose else "CRITICAL")
    # The ephemeral server would try to send usage telemetry; runs must work with no network.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # On a busy machine the temporary server can take longer than Prefect's 20 s to answer.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    # The temporary server stores task runs and events from the event stream in the background, and
    # in its SQLite database those writes collide with creating the next flow run: "database is
    # locked", a 503, retried after 2 s or more (7-15 times in one `run --all`). So it keeps flow runs,
    # their states and logs (task runs' log lines too); a lasting server (PREFECT_API_URL) keeps all.
    for service in ("TASK_RUN_RECORDER", "EVENT_PERSISTER"):
        os.environ.setdefault(f"PREFECT_SERVER_SERVICES_{service}_ENABLED", "false")


def temporary_server() -> bool:
    """True when no Prefect API is configured, so flows report to a server that ends with this command."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    return not PREFECT_API_URL.value() and bool(PREFECT_SERVER_EPHEMERAL_ENABLED.value())


def guard_server(pid: int) -> subprocess.Popen[bytes]:
    """A watcher that stops server `pid` when this process is gone, even after a SIGKILL.

    It reads a pipe that only this process holds (the write end is not inherited by other children),
    so the end of file it waits for comes exactly when this process ends, however it ends.
    """
    return subprocess.Popen(
        [sys.executable, str(GUARD), str(pid)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C in a terminal reaches the CLI, which stops the server itself
    )


def start_prefect_server() -> threading.Thread | None:
    """Boot Prefect's ephemeral API in the background while the heavy imports run.

    With no PREFECT_API_URL, Prefect starts a temporary local server at the first flow call and waits
    for it (several seconds); starting it here overlaps that wait with importing distilabel and
    datasets. The thread must be joined before the first flow call. Any failure is left to Prefect,
    which then starts the server itself as usual; a server that did not come up in time is stopped
    first. A server that came up gets a guard, so it ends with this command even when the command is
    killed.
    """
    if not temporary_server():
        return None
    from prefect.server.api.server import SubprocessASGIServer

    def start() -> None:
        server = SubprocessASGIServer()
        try:
            server.start()
        except Exception:
            with contextlib.suppress(Exception):
                server.stop()
            return
        if server.server_process is not None:
            _GUARDS.append(guard_server(server.server_process.pid))

    thread = threading.Thread(target=start, name="prefect-server-start", daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def flow_runs() -> Iterator[None]:
    """Settings for the flow runs of one command: no heartbeats when the server is temporary.

    Heartbeats let a lasting Prefect server mark a flow run whose process died as crashed. A
    temporary server dies with the process, so nothing would ever read them, and each flow run
    pays up to a second for them when it ends (Prefect joins the heartbeat thread, which sleeps in
    one-second steps): a second per language in `run --all`. Against a real server (PREFECT_API_URL,
    as on a work pool) they stay on.
    """
    if not temporary_server():
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def load_flow(module: str, name: str) -> Any:
    """Import a flow (distilabel, datasets: seconds) while Prefect's ephemeral API boots alongside."""
    server_start = start_prefect_server()
    flow = getattr(importlib.import_module(module), name)
    if server_start is not None:
        server_start.join()
    return flow
