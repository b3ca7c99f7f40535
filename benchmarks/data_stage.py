"""The data stage at Aya's scale: the filter against fastText alone, and `run --all` against one run.

1. Filter/fastText: the Aya-sized file of `benchmarks/flow_run.py` (202,362 rows made from the
   sample). fastText alone is one batched `predict` (top label) over all the Dutch rows' prompts
   and answers; the filter is `filter_rows` for Dutch on the source already loaded and split (it
   asks fastText for the top 5 labels, of the rows that pass the length checks). Both are timed in
   this process, alternately, median of five, in wall and CPU time.
2. `run --all`: an Aya-sized file in which every shipped config has rows (the sample's languages as
   in 1, 2,000 rows for each other config made of its own words: `filler`), then `dpo-factory run
   nld` and `dpo-factory run --all`, both `--offline --limit 1`, each as its own process, three
   times alternately; the medians are compared. Peak memory is the largest resident set of those
   processes.

    uv run python -m benchmarks.data_stage
"""

import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from benchmarks.flow_run import AYA_TRAIN_ROWS, aya_sized
from languages.langid import load_model
from languages.schema import LanguageConfig, config_paths, load_config_file, load_language
from tasks.filter.rules import filter_rows
from tasks.source.load import load_aya
from tasks.source.split import load_split

LANGUAGE = "nld"
ROWS_PER_OTHER_CONFIG = 2_000
RUNS = 3  # of each `run`: one machine's timings vary by 10-20% from run to run


def filter_against_fasttext(source: Path) -> tuple[dict[str, float], dict[str, float], int]:
    """Median wall and CPU seconds of the Dutch filter and of fastText alone, and the Dutch rows.

    CPU time (all threads of this process) is shown too: other processes on a shared machine move
    wall times by tens of percent between two timings, CPU time much less.
    """
    split = load_split(str(source))
    config = load_language(LANGUAGE)
    rows = split.select(config.aya_language_codes)
    texts = [(text or "").replace("\n", " ") for text in rows["inputs"].to_list() + rows["targets"].to_list()]
    model = load_model(config.lid.model)
    filter_rows(split, config)  # warm: the model and polars' first calls
    timings: dict[str, list[float]] = {
        "fasttext wall": [],
        "fasttext cpu": [],
        "filter wall": [],
        "filter cpu": [],
    }
    for _ in range(5):
        for name, work in (
            ("fasttext", lambda: model.predict(texts)),
            ("filter", lambda: filter_rows(split, config)),
        ):
            wall, cpu = time.perf_counter(), time.process_time()
            work()
            timings[f"{name} wall"].append(time.perf_counter() - wall)
            timings[f"{name} cpu"].append(time.process_time() - cpu)
    median = {name: statistics.median(values) for name, values in timings.items()}
    return (
        {kind: median[f"filter {kind}"] for kind in ("wall", "cpu")},
        {kind: median[f"fasttext {kind}"] for kind in ("wall", "cpu")},
        rows.height,
    )


def filler(config: LanguageConfig, count: int) -> pl.DataFrame:
    """Distinct Aya-shaped rows for a config the sample has no rows for, made of its own words.

    Each prompt and answer draws its words at random (seeded by the config's code) from the config's
    system prompt, so rows differ in content and length as Aya's rows do. Rows that were one sentence
    reworded made every row a near duplicate of all the others and every answer the same text: a
    worst case for the duplicate pass that no language has in Aya (measured apart in docs/performance.md).
    """
    rng = random.Random(config.code)
    words = config.generation.system_prompt.split()
    prompts = [" ".join(rng.choices(words, k=rng.randint(6, 24))) + "?" for _ in range(count)]
    answers = [" ".join(rng.choices(words, k=rng.randint(20, 90))) + "." for _ in range(count)]
    return pl.DataFrame(
        {
            "inputs": prompts,
            "targets": answers,
            "language": [config.name] * count,
            "language_code": [config.aya_language_codes[0]] * count,
            "annotation_type": ["original-annotations"] * count,
            "user_id": ["bench"] * count,
        }
    )


def every_config(path: Path) -> list[str]:
    """An Aya-sized file with rows for every shipped config; returns the config stems."""
    configs = [load_config_file(p) for p in config_paths()]
    present = set(load_aya("sample")["language_code"])
    extra = [
        filler(config, ROWS_PER_OTHER_CONFIG)
        for config in configs
        if config.aya_language_codes[0] not in present
    ]
    base = path.with_suffix(".base.parquet")
    aya_sized(base)
    others = pl.concat(extra) if extra else None
    head = AYA_TRAIN_ROWS - (others.height if others is not None else 0)
    frame = pl.read_parquet(base).head(head)
    pl.concat([frame, others] if others is not None else [frame]).write_parquet(path)
    return [p.stem for p in config_paths()]


def timed_run(arguments: list[str], source: Path, out: Path) -> tuple[float, int]:
    command = [
        sys.executable,
        "-m",
        "flows.cli",
        "run",
        *arguments,
        "--source",
        str(source),
        "--out",
        str(out),
    ]
    command += ["--offline", "--limit", "1"]
    log = out.with_suffix(".log")
    started = time.perf_counter()
    # To a file, not a pipe: a pipe would also wait for anything the run leaves behind.
    with log.open("w") as errors:
        code = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=errors).returncode
    wall = time.perf_counter() - started
    if code != 0:
        lines = log.read_text().strip().splitlines()
        print(lines[-1] if lines else "run failed", file=sys.stderr)
    return wall, code


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "aya.parquet"
        aya_sized(source)
        filtering, fasttext, rows = filter_against_fasttext(source)
        print(f"filter for {LANGUAGE}: {rows:,} of {AYA_TRAIN_ROWS:,} rows ({2 * rows:,} texts), median of 5")
        for kind in ("wall", "cpu"):
            print(
                f"  {kind}: fastText alone {fasttext[kind]:.2f} s, filter {filtering[kind]:.2f} s: "
                f"ratio {filtering[kind] / fasttext[kind]:.2f}x"
            )

        everything = Path(work) / "aya_all.parquet"
        stems = every_config(everything)
        walls: dict[str, list[float]] = {"one": [], "all": []}
        codes = set()
        for attempt in range(RUNS):  # alternately, each into a fresh folder: a first run every time
            for name, arguments in (("one", [LANGUAGE]), ("all", ["--all"])):
                wall, code = timed_run(arguments, everything, Path(work) / f"out_{name}_{attempt}")
                walls[name].append(wall)
                codes.add(code)
        one, every = (statistics.median(walls[name]) for name in ("one", "all"))
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"run --offline --limit 1 on an Aya-sized file with rows for all {len(stems)} configs")
        print(
            f"  run {LANGUAGE} {one:.1f} s, run --all {every:.1f} s (medians of {RUNS}; exit codes {sorted(codes)}):"
        )
        print(f"  ratio {every / one:.2f}x; peak resident memory {peak_mib:,.0f} MiB")
        print(
            "  all runs: "
            + ", ".join(f"{name} {' '.join(f'{w:.1f}' for w in walls[name])}" for name in walls)
        )


if __name__ == "__main__":
    main()
