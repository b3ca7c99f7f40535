"""Throughput of the LLM stage against a local OpenAI-compatible server with lognormal latency.

For each concurrency C, rows/s is the marginal rate between a small and a large run (so start-up
cancels), compared with the bound C / (2 x mean latency): every row costs two calls. With two
generator models a row costs three calls (two answers, one judgement of all three): bound C / (3 x mean). The same rows go
through a distilabel `Pipeline` shaped like the community recipe (load, TextGeneration, pair with the
human answer, UltraFeedback, FormatTextGenerationDPO) at two input batch sizes; our stage is then run
at the Pipeline's measured peak of requests in flight, for a like-for-like ratio.

Streaming: 400 rows at C = 16, counting events as they happen: rows judged when half the answers are
back, and the time from the stage's start (pre-flight probe included) to the first judged row.

    uv run python -m benchmarks.llm_stage                    # the full table (make bench)
    uv run python -m benchmarks.llm_stage --quick            # fewer rows, for a smoke run
    uv run python -m benchmarks.llm_stage --streaming-only   # only the streaming figures
"""

import argparse
import contextlib
import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from typing import Any

from distilabel.steps import StepInput, step

MEDIAN, SIGMA = 0.100, 0.5
MEAN_LATENCY = MEDIAN * math.exp(SIGMA**2 / 2)  # of a lognormal: median x e^(sigma^2 / 2)
STREAM_ROWS, STREAM_CONCURRENCY = 400, 16


# The recipe's step that puts the human answer next to the generated one. Module level: distilabel
# pickles steps into worker processes. No `from __future__ import annotations` in this file, because
# distilabel reads the `StepInput` annotation at runtime.
@step(inputs=["targets", "generation"], outputs=["generations", "generation_models"])
def PairWithHuman(inputs: StepInput):  # noqa: N802 - distilabel names steps like classes
    for row in inputs:
        row["generations"] = [row["targets"], row["generation"]]
        row["generation_models"] = ["human", row.get("model_name", "bench")]
    yield inputs


def start_server() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.openai_server", "--median", str(MEDIAN), "--sigma", str(SIGMA)],
        stdout=subprocess.PIPE,
        text=True,
    )
    return process, process.stdout.readline().strip()


def server_stats(base_url: str, reset: bool = False) -> dict[str, int]:
    url = base_url.removesuffix("/v1") + "/stats" + ("?reset=1" if reset else "")
    with urllib.request.urlopen(url) as response:  # noqa: S310 - loopback only
        return json.load(response)


def make_rows(count: int) -> list[dict[str, Any]]:
    """Distinct Dutch rows built from the shipped sample's, as the filter stage would emit them."""
    from languages.schema import load_language
    from tasks.filter.rules import filter_rows
    from tasks.source.load import load_aya

    base = filter_rows(load_aya("sample"), load_language("nld")).kept.to_dicts()
    rows = []
    for i in range(count):
        row = dict(base[i % len(base)])
        row["id"] = f"bench-{i:06d}"
        row["inputs"] = f"Vraag {i}: {row['inputs']}"
        rows.append(row)
    return rows


def _clients(
    base_url: str, generator_class: type | None = None, judge_class: type | None = None, generators: int = 1
) -> tuple:
    from languages.schema import load_language
    from tasks.llm.client import build_llm, resolve_endpoint
    from tasks.llm.generate import Generator
    from tasks.llm.judge import Judge

    config = load_language("nld")
    models = ["bench"] if generators == 1 else [f"bench-{i}" for i in range(generators)]
    generator = [
        (generator_class or Generator)(
            build_llm(config.generation, resolve_endpoint(config.generation, base_url, model), "generator"),
            config.generation,
        )
        for model in models
    ]
    generator = generator[0] if generators == 1 else generator
    judge = (judge_class or Judge)(
        build_llm(config.judge, resolve_endpoint(config.judge, base_url, "bench"), "judge"), config.judge
    )
    return config, generator, judge


def time_ours(rows: list[dict[str, Any]], base_url: str, concurrency: int, generators: int = 1) -> float:
    from tasks.llm.stage import respond_and_judge

    config, generator, judge = _clients(base_url, generators=generators)
    started = time.perf_counter()
    results, _ = respond_and_judge(rows, config, generator, judge, concurrency)
    elapsed = time.perf_counter() - started
    assert all(r["status"] == "judged" for r in results), "the benchmark server must not fail"
    return elapsed


def streaming(base_url: str, count: int, concurrency: int) -> dict[str, float]:
    """Rows judged when half the answers are back, and seconds to the first judged row.

    Counted by wrapping the generator's and the judge's calls (one judge call per row: no swap), so
    the same function measures any version of the stage.
    """
    from tasks.llm.generate import Generator
    from tasks.llm.judge import Judge
    from tasks.llm.stage import respond_and_judge

    events: list[tuple[float, str]] = []

    class CountingGenerator(Generator):
        async def generate(self, instruction: str) -> tuple[str | None, dict]:
            answer = await super().generate(instruction)
            events.append((time.perf_counter(), "answer"))
            return answer

    class CountingJudge(Judge):
        async def judge(self, instruction: str, generations: list[str]) -> tuple[Any, dict]:
            judgement = await super().judge(instruction, generations)
            events.append((time.perf_counter(), "judged"))
            return judgement

    config, generator, judge = _clients(base_url, CountingGenerator, CountingJudge)
    assert not config.judge.swap, "one judge call per row"
    started = time.perf_counter()
    results, _ = respond_and_judge(make_rows(count), config, generator, judge, concurrency)
    elapsed = time.perf_counter() - started
    assert all(r["status"] == "judged" for r in results), "the benchmark server must not fail"
    answers = judged = 0
    judged_at_half = None
    for _, kind in events:
        answers += kind == "answer"
        judged += kind == "judged"
        if answers == count // 2 and judged_at_half is None:
            judged_at_half = judged
    first_judged = min(at for at, kind in events if kind == "judged") - started
    return {"judged_at_half_answers": judged_at_half, "first_judged_s": first_judged, "seconds": elapsed}


def print_streaming(base_url: str, repeats: int) -> dict[str, Any]:
    """The streaming figures, median of `repeats` runs."""
    runs = [streaming(base_url, STREAM_ROWS, STREAM_CONCURRENCY) for _ in range(repeats)]
    figures = {
        "rows": STREAM_ROWS,
        "C": STREAM_CONCURRENCY,
        "judged_at_half_answers": statistics.median(r["judged_at_half_answers"] for r in runs),
        "first_judged_s": statistics.median(r["first_judged_s"] for r in runs),
        "seconds": statistics.median(r["seconds"] for r in runs),
    }
    print(
        f"\nstreaming, {STREAM_ROWS} rows at C = {STREAM_CONCURRENCY} (median of {repeats}): "
        f"{figures['judged_at_half_answers']:.0f} rows judged when {STREAM_ROWS // 2} answers were back "
        f"(criterion: >= {STREAM_ROWS // 2 - 3 * STREAM_CONCURRENCY}), first judged row after "
        f"{figures['first_judged_s']:.2f} s, all {STREAM_ROWS} in {figures['seconds']:.2f} s"
    )
    return figures


@contextlib.contextmanager
def _quiet_output():
    """The Pipeline's worker processes log every batch; keep that out of the table (shown on failure)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            log.seek(0)
            sys.stderr.write(log.read().decode("utf-8", "replace")[-5000:])
            raise
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def time_recipe(rows: list[dict[str, Any]], base_url: str, batch_size: int) -> float:
    """The community recipe as a distilabel Pipeline, timed end to end (its fixed cost cancels out)."""
    from distilabel.models.llms import OpenAILLM
    from distilabel.pipeline import Pipeline
    from distilabel.steps import FormatTextGenerationDPO, LoadDataFromDicts
    from distilabel.steps.tasks import TextGeneration, UltraFeedback

    from languages.schema import load_language

    system_prompt = load_language("nld").generation.system_prompt
    data = [{"instruction": r["inputs"], "targets": r["targets"]} for r in rows]
    with tempfile.TemporaryDirectory() as cache, Pipeline(name="recipe-bench", cache_dir=cache) as pipeline:
        load = LoadDataFromDicts(data=data, batch_size=batch_size)
        generate = TextGeneration(
            llm=OpenAILLM(model="bench", base_url=base_url, api_key="bench"),
            system_prompt=system_prompt,
            input_batch_size=batch_size,
        )
        pair = PairWithHuman(input_batch_size=batch_size)
        judge = UltraFeedback(
            llm=OpenAILLM(model="bench", base_url=base_url, api_key="bench"),
            aspect="overall-rating",
            input_batch_size=batch_size,
        )
        dpo = FormatTextGenerationDPO(input_batch_size=batch_size)
        load >> generate >> pair >> judge >> dpo
        started = time.perf_counter()
        with _quiet_output():
            distiset = pipeline.run(use_cache=False)
        elapsed = time.perf_counter() - started
    assert distiset["default"]["train"].num_rows == len(rows)
    return elapsed


def marginal(small: int, large: int, repeats: int, timer, *args) -> tuple[float, int]:
    """Rows/s between a small and a large run (median time of `repeats` each), and the peak in flight."""
    base_url = args[0]
    server_stats(base_url, reset=True)
    t_small = statistics.median(timer(make_rows(small), *args) for _ in range(repeats))
    t_large = statistics.median(timer(make_rows(large), *args) for _ in range(repeats))
    peak = server_stats(base_url)["max_in_flight"]
    return (large - small) / (t_large - t_small), peak


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="200/400 rows, one timing each: a smoke run")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--streaming-only", action="store_true", help="only the streaming figures")
    args = parser.parse_args()
    small, large, repeats = (200, 400, 1) if args.quick else (200, 1_000, 3)

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    server, base_url = start_server()
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "rows": [small, large],
        "latency": {"median_s": MEDIAN, "sigma": SIGMA, "mean_s": round(MEAN_LATENCY, 4)},
        "ours": [],
        "recipe": [],
    }
    try:
        if args.streaming_only:
            print_streaming(base_url, 1 if args.quick else 3)
            return
        print(
            f"latency lognormal(median {MEDIAN * 1000:.0f} ms, sigma {SIGMA}), mean {MEAN_LATENCY * 1000:.1f} ms"
        )
        print(f"rows/s = marginal rate between {small} and {large} rows (median of {repeats} timings each)\n")
        print(f"{'C':>5} {'rows/s':>9} {'bound':>9} {'share':>7} {'peak in flight':>15}")
        for concurrency in (8, 32, 128):
            rate, peak = marginal(small, large, repeats, time_ours, base_url, concurrency)
            bound = concurrency / (2 * MEAN_LATENCY)
            results["ours"].append({"C": concurrency, "rows_per_s": rate, "bound": bound, "peak": peak})
            print(f"{concurrency:>5} {rate:>9.1f} {bound:>9.1f} {rate / bound:>7.0%} {peak:>15}")
        # Two generator models: every row costs three calls (two answers, one judgement of all three).
        print(f"\ntwo generators\n{'C':>5} {'rows/s':>9} {'bound':>9} {'share':>7} {'peak in flight':>15}")
        results["two_generators"] = []
        for concurrency in (8, 32, 128):
            rate, peak = marginal(small, large, repeats, time_ours, base_url, concurrency, 2)
            bound = concurrency / (3 * MEAN_LATENCY)
            results["two_generators"].append(
                {"C": concurrency, "rows_per_s": rate, "bound": bound, "peak": peak}
            )
            print(f"{concurrency:>5} {rate:>9.1f} {bound:>9.1f} {rate / bound:>7.0%} {peak:>15}")
        results["streaming"] = print_streaming(base_url, repeats)

        print(f"\n{'recipe batch':>12} {'recipe rows/s':>14} {'peak':>6} {'ours at peak':>13} {'ratio':>7}")
        for batch_size in (16, 50):
            recipe_rate, peak = marginal(small, large, repeats, time_recipe, base_url, batch_size)
            ours_rate, our_peak = marginal(small, large, repeats, time_ours, base_url, peak)
            ratio = ours_rate / recipe_rate
            results["recipe"].append(
                {"batch": batch_size, "rows_per_s": recipe_rate, "peak": peak, "ours_rows_per_s": ours_rate,
                 "ours_peak": our_peak, "ratio": ratio}
            )  # fmt: skip
            print(f"{batch_size:>12} {recipe_rate:>14.1f} {peak:>6} {ours_rate:>13.1f} {ratio:>6.1f}x")
        print(f"\n{results['machine']}")
    finally:
        server.terminate()
        server.wait()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
