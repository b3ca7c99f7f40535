"""Memory and wall time of one per-language flow run at Aya's scale, as a worker would see it.

Builds an Aya-shaped file of 202,362 rows (Aya's train split size) from the shipped sample, each row
made distinct, then runs `dpo-factory run nld` on it as a separate process: load, filter with fastText,
1,000 rows through generate and judge against the local OpenAI-compatible server (no added latency),
format and write. Reports the process's wall time and peak resident memory.

    uv run python -m benchmarks.flow_run
"""

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from tasks.source.load import load_aya
from tests.openai_server import OpenAIServer

AYA_TRAIN_ROWS = 202_362
LLM_ROWS = 1_000


def aya_sized(path: Path) -> None:
    sample = load_aya("sample")
    copies = -(-AYA_TRAIN_ROWS // sample.height)
    # A numbered prefix keeps copies apart for the exact and the near-duplicate checks (Jaccard ~0.65).
    frame = pl.concat(
        sample.with_columns(inputs=pl.format("Vraag {}: {}", pl.lit(i), pl.col("inputs")))
        for i in range(copies)
    ).head(AYA_TRAIN_ROWS)
    frame.write_parquet(path)


def main() -> None:
    with tempfile.TemporaryDirectory() as work, OpenAIServer() as server:
        source = Path(work) / "aya.parquet"
        aya_sized(source)
        command = [
            sys.executable, "-m", "flows.cli", "run", "nld", "--source", str(source), "--out", str(Path(work) / "out"),
            "--llm-base-url", server.base_url, "--llm-model", "bench", "--limit", str(LLM_ROWS), "--concurrency", "32",
        ]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=os.environ | {"OPENAI_API_KEY": "bench"})
        wall = time.perf_counter() - started
        calls = server.log.calls()
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{AYA_TRAIN_ROWS:,} Aya-shaped rows in, {LLM_ROWS:,} rows through the LLM stage ({calls:,} calls)")
    print(f"wall time {wall:.1f} s, peak resident memory {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
