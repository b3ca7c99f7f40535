"""The figures of the reliability table in docs/performance.md: a Dutch run of 120 rows against the local server
injecting 10% 429s, 10% 500s, 3% hangs past a 1 s client timeout and 10% unparseable judge outputs
(one retry per call), then a rerun against a healthy server. The same scenario is asserted by
tests/flows/test_reliability.py; this prints what happened.

    uv run python -m benchmarks.reliability
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from typer.testing import CliRunner  # noqa: E402

from flows.cli import app  # noqa: E402
from tasks.publish.destination import read_local_raw  # noqa: E402
from tasks.source.load import load_aya  # noqa: E402
from tests.flows.test_reliability import fault_configs, faulty_script  # noqa: E402
from tests.flows.test_resume import dutch_source  # noqa: E402
from tests.openai_server import OpenAIServer  # noqa: E402


def main() -> None:
    work = Path(tempfile.mkdtemp())
    configs = fault_configs(work / "languages")
    source = work / "dutch.parquet"
    rows = dutch_source(load_aya("sample"), source)

    def run(server: OpenAIServer, summary: str) -> dict:
        args = ["run", "nld", "--source", str(source), "--out", str(work / "out"), "--llm-base-url", server.base_url,
                "--llm-model", "m", "--concurrency", "8", "--languages-dir", str(configs),
                "--summary-json", str(work / summary)]  # fmt: skip
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        return json.loads((work / summary).read_text(encoding="utf-8"))["languages"][0]

    with OpenAIServer(faulty_script()) as server:
        faulty = run(server, "faulty.json")
        requests = server.log.calls()
    with OpenAIServer() as server:
        healthy = run(server, "healthy.json")
        calls = server.log.calls("generate"), server.log.calls("judge")
    raw = read_local_raw(work / "out", "dpo-factory/aya_dutch_dpo_raw")
    shutil.rmtree(work)

    llm, this_run = faulty["llm_stage"], faulty["this_run"]
    print(f"faulty run: {rows} rows in, {requests} requests, {sum(llm['retries'].values())} retries")
    print(f"  {this_run['judged']} judged, {this_run['failed']} failed: {llm['failures']}")
    print(f"  rows lost: {rows - faulty['processed'] - sum(faulty['filter']['dropped'].values())}")
    print(f"healthy rerun: {calls[1]} judge calls, {calls[0]} generations, "
          f"{healthy['llm_stage']['resumed_generations']} answers reused")  # fmt: skip
    print(
        f"  raw rows {raw.height}, unique ids {raw['id'].n_unique()}, judged {int((raw['status'] == 'judged').sum())}"
    )


if __name__ == "__main__":
    main()
