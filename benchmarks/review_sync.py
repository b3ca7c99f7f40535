"""Community review sync at scale: the project's own pull of 5,000 tasks and 15,000 votes from a local
Label Studio, timed and counted, and every vote checked after folding.

A LabelStudioServer (`.venv-labelstudio`, data folder on /dev/shm when there is one) gets the Dutch
project from `LabelStudio.project`, and 5,000 tasks made by `review_task` from synthetic raw-like
rows, each with three votes by three annotators who signed up through the web form. The votes are
embedded in the import (`ground_truth: false`): under a minute, where one request a vote would take
most of an hour. Then `LabelStudio.tasks` pulls everything back (its requests counted and timed, and
the server's CPU time read from /proc, which the machine's load does not inflate), `fold_votes`
folds the votes into the synthetic raw, and every row's counts are checked against the votes cast.

    uv run python -m benchmarks.review_sync                         # PAGE_SIZE as shipped, 3 pulls
    uv run python -m benchmarks.review_sync --page-sizes 250,1000,5000 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import polars as pl

import tasks.review.labelstudio as labelstudio
from languages.review import Review
from languages.schema import load_language
from tasks.review.labelstudio import CHOICE, LabelStudio
from tasks.review.pairs import SIDES, pair_key, review_task
from tasks.review.votes import fold_votes
from tasks.state.status import STATUS_JUDGED
from tests.labelstudio_server import VENV, LabelStudioServer, available

VOTES_PER_PAIR = 3
HUMAN, LLM = "human", "bench/generator"  # the two sources of every pair here
WORDS = ("de", "het", "een", "water", "huis", "fiets", "stad", "land", "boek", "school", "werk", "tijd", "jaar",
         "mensen", "kinderen", "taal", "vraag", "antwoord", "regen", "zon", "brood", "kaas", "markt", "trein",
         "haven", "molen", "dijk", "polder", "winter", "zomer", "lente", "herfst", "vriend", "buurman")  # fmt: skip
SELECTED = {SIDES[0]: "left", SIDES[1]: "right"}


class TimedLabelStudio(LabelStudio):
    """The project's client, unchanged, with each request's wall time noted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.durations: list[float] = []

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        try:
            return super()._call(method, path, **kwargs)
        finally:
            self.durations.append(time.perf_counter() - started)


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def synthetic_raw(rows: int, seed: int = 7) -> pl.DataFrame:
    """Judged raw-like rows: a prompt of about 300 characters, two answers of about 600 each."""
    rng = random.Random(seed)
    records = []
    for i in range(rows):
        human, llm = _text(rng, 100), _text(rng, 100)
        records.append(
            {
                "id": f"nld-bench-{i:06d}",
                "instruction": f"Vraag {i}: " + _text(rng, 50),
                "targets": human,
                "generation": llm,
                "generations": [human, llm],
                "generation_models": [HUMAN, LLM],
                "model_name": "bench/judge",
                "ratings": [rng.randint(1, 5), rng.randint(1, 5)],
                "status": STATUS_JUDGED,
            }
        )
    return pl.DataFrame(records)


def _annotator_ids(server: LabelStudioServer, count: int) -> list[int]:
    """People who sign up through the web form, as volunteers do; their server user ids."""
    ids = []
    for i in range(count):
        with server.annotator(f"bench{i}@example.org") as person:
            ids.append(int(person.get("/api/current-user/whoami").raise_for_status().json()["id"]))
    return ids


def tasks_with_votes(
    raw: pl.DataFrame, annotators: list[int], seed: int = 11
) -> tuple[list[dict[str, Any]], dict[str, Counter]]:
    """`review_task` for each row, its `meta` included, with one vote per annotator embedded; and per
    row id the votes cast (for the human answer / the generator's), to check what comes back."""
    rng = random.Random(seed)
    tasks, cast = [], {}
    for row in raw.iter_rows(named=True):
        task = review_task(row, pair_key(row["id"], *row["generations"]))
        human_side = task["meta"]["first_answer"]  # the human answer is the first of each pair
        picks = [rng.choice(SIDES) for _ in annotators]
        task["annotations"] = [
            {
                "result": [
                    {
                        "from_name": CHOICE,
                        "to_name": CHOICE,
                        "type": "pairwise",
                        "value": {"selected": SELECTED[side]},
                    }
                ],
                "completed_by": user,
                "ground_truth": False,
            }
            for user, side in zip(annotators, picks, strict=True)
        ]
        cast[row["id"]] = Counter(HUMAN if side == human_side else LLM for side in picks)
        tasks.append(task)
    return tasks, cast


def check(raw: pl.DataFrame, pulled: list, cast: dict[str, Counter], token: str) -> dict[str, Any]:
    """Fold the pulled votes into the raw rows; every row must hold exactly the votes cast on it."""
    folded, report = fold_votes(raw, pulled, VOTES_PER_PAIR, salt=token)
    wrong = [
        row["id"]
        for row in folded.iter_rows(named=True)
        if row["votes_submitted"] != VOTES_PER_PAIR
        or row["votes_first"] != cast[row["id"]][HUMAN]
        or row["votes_second"] != cast[row["id"]][LLM]
        or row["human_preference"] != cast[row["id"]].most_common(1)[0][0]  # 3 votes, 2 sides: a majority
    ]
    annotators = {vote["annotator"] for votes in folded["review_votes"].to_list() for vote in votes}
    return {
        "tasks": len(pulled),
        "votes": int(folded["votes_submitted"].sum()),
        "rows_wrong": len(wrong),
        "annotators": len(annotators),
        "ignored": report["ignored_annotations"],
    }


def server_cpu_seconds(server: LabelStudioServer) -> float:
    """CPU time (user + system) of the server's process: Label Studio serves from that one process,
    and its CPU time, unlike wall time, does not grow when other work shares the machine."""
    assert server.process is not None
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def pull(server: LabelStudioServer, project: int, page_size: int) -> tuple[list, dict[str, Any]]:
    """One full pull with a fresh client: `LabelStudio.tasks` with `PAGE_SIZE` set to `page_size`."""
    shipped = labelstudio.PAGE_SIZE
    labelstudio.PAGE_SIZE = page_size
    client = TimedLabelStudio(server.url, server.token, timeout=900)  # a 5,000-task page takes minutes here
    try:
        cpu, started = server_cpu_seconds(server), time.perf_counter()
        pulled = client.tasks(project)
        seconds, cpu = time.perf_counter() - started, server_cpu_seconds(server) - cpu
    finally:
        labelstudio.PAGE_SIZE = shipped
        client.close()
    return pulled, {
        "seconds": seconds,
        "server_cpu_s": cpu,
        "requests": client.requests,
        "request_seconds": client.durations,
    }


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}, "
        f"load average {load} at the end"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5_000)
    parser.add_argument("--page-sizes", default=str(labelstudio.PAGE_SIZE), help="comma-separated")
    parser.add_argument("--repeats", type=int, default=3, help="pulls per page size; the median is reported")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/review_sync.json"))
    args = parser.parse_args()
    page_sizes = [int(size) for size in args.page_sizes.split(",")]
    missing = available()
    if missing:
        raise SystemExit(missing)

    shm = Path("/dev/shm")  # SQLite syncs every write; in memory the import is several times faster
    folder = Path(tempfile.mkdtemp(prefix="label-studio-bench-", dir=shm if shm.is_dir() else None))
    results: dict[str, Any] = {"tasks": args.tasks, "votes_per_task": VOTES_PER_PAIR}
    try:
        with LabelStudioServer(folder) as server:
            config = load_language("nld").model_copy(
                update={
                    "review": Review(backend="labelstudio", url=server.url, votes_per_pair=VOTES_PER_PAIR)
                }
            )
            raw = synthetic_raw(args.tasks)
            annotators = _annotator_ids(server, VOTES_PER_PAIR)
            tasks, cast = tasks_with_votes(raw, annotators)
            setup = TimedLabelStudio(server.url, server.token, timeout=900)
            started = time.perf_counter()
            project = setup.project(config)
            sent = setup.send(project, tasks)
            results["import"] = {
                "seconds": time.perf_counter() - started,
                "requests": setup.requests,
                "tasks": sent,
                "votes": sum(len(task["annotations"]) for task in tasks),
            }
            setup.close()
            assert sent == args.tasks, f"the server took {sent} of {args.tasks} tasks"

            runs: dict[int, list[dict[str, Any]]] = {size: [] for size in page_sizes}
            for _ in range(args.repeats):  # page sizes take turns, so a busy spell hits them alike
                for page_size in page_sizes:
                    pulled, figures = pull(server, project, page_size)
                    figures["check"] = check(raw, pulled, cast, server.token)
                    runs[page_size].append(figures)
                    print(
                        f"page size {page_size}: {figures['seconds']:.1f} s, "
                        f"server CPU {figures['server_cpu_s']:.1f} s, {figures['requests']} requests",
                        flush=True,
                    )
            results["pulls"] = [
                {
                    "page_size": size,
                    "seconds_median": statistics.median(r["seconds"] for r in found),
                    "server_cpu_s_median": statistics.median(r["server_cpu_s"] for r in found),
                    "runs": found,
                }
                for size, found in runs.items()
            ]
            started = time.perf_counter()
            check(raw, pulled, cast, server.token)
            results["fold_seconds"] = time.perf_counter() - started
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    results["machine"] = machine()
    results["label_studio"] = _label_studio_version()
    results["data_dir"] = "tmpfs (/dev/shm)" if shm.is_dir() else "disk"
    report(results)
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    failed = [run for pull_ in results["pulls"] for run in pull_["runs"] if not _complete(run, args.tasks)]
    if failed:
        raise SystemExit(f"votes missing or wrong after a pull: {failed[0]['check']}")


def _complete(run: dict[str, Any], tasks: int) -> bool:
    found = run["check"]
    return (
        found["tasks"] == tasks
        and found["votes"] == tasks * VOTES_PER_PAIR
        and found["rows_wrong"] == 0
        and found["annotators"] == VOTES_PER_PAIR
        and not found["ignored"]
    )


def _label_studio_version() -> str:
    found = sorted((VENV / "lib").glob("python*/site-packages/label_studio-*.dist-info"))
    return found[0].name.removeprefix("label_studio-").removesuffix(".dist-info") if found else "unknown"


def report(results: dict[str, Any]) -> None:
    imported = results["import"]
    print(
        f"\nLabel Studio {results['label_studio']}, data on {results['data_dir']}; {results['machine']}\n"
        f"import: {imported['tasks']:,} tasks with {imported['votes']:,} votes in {imported['seconds']:.1f} s, "
        f"{imported['requests']} requests (incl. the project)\n"
        f"fold of the pulled votes into the raw rows: {results['fold_seconds']:.2f} s\n"
    )
    print("| page size | requests | pull, wall | server CPU | CPU ms per task | tasks | votes | rows wrong |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for pull_ in results["pulls"]:
        last, cpu = pull_["runs"][-1], pull_["server_cpu_s_median"]
        found = last["check"]
        print(
            f"| {pull_['page_size']:,} | {last['requests']} | {pull_['seconds_median']:.1f} s | {cpu:.1f} s "
            f"| {1000 * cpu / max(found['tasks'], 1):.1f} | {found['tasks']:,} | {found['votes']:,} "
            f"| {found['rows_wrong']} |"
        )
    print(f"(medians of {len(results['pulls'][0]['runs'])} pulls each)")


if __name__ == "__main__":
    main()
