"""Fixtures shared by the flow tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

SAMPLE_RUN = ["nld", "jpn", "spa"]


@pytest.fixture(scope="session")
def sample_published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """What a user gets from `run nld jpn spa --source sample --offline` and then `coverage`, in one
    `--out` folder, and the coverage command's output. Shared, so tests only read it."""
    out = tmp_path_factory.mktemp("sample-out")
    output = ""
    for command in (["run", *SAMPLE_RUN, "--offline"], ["coverage"]):
        result = CliRunner().invoke(app, [*command, "--source", "sample", "--out", str(out)])
        output = result.stdout + result.stderr
        assert result.exit_code == 0, output
    return out, output
