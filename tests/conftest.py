"""Test settings: no network, a throwaway Prefect home, and shared fixtures."""

from __future__ import annotations

import os
import tempfile

# Set before anything imports prefect or huggingface_hub: they read these at import time.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="dpo-factory-prefect-")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
# The machine may be busy: give the temporary Prefect server time to answer.
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "90"
# As the CLI sets them for its temporary server (flows/cli/prefect_server.py, configure_prefect).
os.environ["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED"] = "false"
os.environ["PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED"] = "false"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.pop("PREFECT_API_URL", None)

from collections.abc import Iterator  # noqa: E402

import polars as pl  # noqa: E402
import pytest  # noqa: E402

from languages.schema import LanguageConfig, load_language  # noqa: E402
from tasks.source.load import load_aya  # noqa: E402
from tests.openai_server import OpenAIServer  # noqa: E402


@pytest.fixture(scope="session")
def sample() -> pl.DataFrame:
    return load_aya("sample")


@pytest.fixture(scope="session")
def dutch() -> LanguageConfig:
    return load_language("nld")


@pytest.fixture
def llm_server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the temporary Prefect server while pytest's streams are still open.

    Left to Prefect's exit hook, it is stopped after pytest has closed the stream that Prefect's
    console handler writes to, and its "Stopping temporary server" line ends the run in a traceback.
    """
    import logging
    import sys

    server_module = sys.modules.get("prefect.server.api.server")
    if server_module is not None:
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=10)  # log lines still queued reach the server before it stops
        # Its "Stopping temporary server" line would go to a stream or an API that is going away.
        logging.getLogger("prefect").setLevel(logging.WARNING)
        for server in list(server_module.SubprocessASGIServer._instances.values()):
            server.stop()
