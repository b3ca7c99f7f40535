"""Wall time of a scheduled run that finds nothing new: the whole `dpo-factory run` command, Prefect
start-up included, against the local OpenAI-compatible server (which counts the calls it gets).

    uv run python -m benchmarks.incremental
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.openai_server import OpenAIServer

LANGUAGE = "nld"


def run(out: Path, base_url: str) -> float:
    command = [
        sys.executable, "-m", "flows.cli", "run", LANGUAGE, "--source", "sample", "--out", str(out),
        "--llm-base-url", base_url, "--llm-model", "bench",
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=os.environ | {"OPENAI_API_KEY": "bench"})
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as work, OpenAIServer() as server:
        out = Path(work) / "out"
        first = run(out, server.base_url)
        first_calls = server.log.calls()
        repeats = [run(out, server.base_url) for _ in range(3)]
        later_calls = server.log.calls() - first_calls
    print(f"first run ({LANGUAGE}, shipped sample): {first:.1f} s, {first_calls} LLM calls")
    print(f"run with nothing new: {statistics.median(repeats):.1f} s (median of 3), {later_calls} LLM calls")


if __name__ == "__main__":
    main()
