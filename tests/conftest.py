"""Test settings: no network, a throwaway Prefect home, and shared fixtures."""

from __future__ import annotations

import os
import tempfile

# Set before anything imports prefect or huggingface_hub: they read these at import time.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="dpo-factory-prefect-")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
# The machine may be busy: give the temporary Prefect server time to answer.
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "90"
# As the CLI sets them for its temporary server (flows/cli.py, _configure_prefect).
os.environ["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED"] = "false"
os.environ["PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED"] = "false"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.pop("PREFECT_API_URL", None)

from collections.abc import Iterator  # noqa: E402

import polars as pl  # noqa: E402
import pytest  # noqa: E402

from languages.schema import LanguageConfig, load_language  # noqa: E402
from tasks.load import load_aya  # noqa: E402
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
