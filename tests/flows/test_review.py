"""The community review loop against a real Label Studio server: run, vote, review, review again."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl
import pytest
import yaml

from tests.flows.test_incremental import CURATED, RAW, invoke, read
from tests.flows.test_resume import dutch_source, run_args
from tests.helpers import copy_configs
from tests.labelstudio_server import LabelStudioServer, running, vote
from tests.openai_server import OpenAIServer

OPEN = 6


@pytest.fixture(scope="module")
def label_studio() -> Iterator[LabelStudioServer]:
    with running("label-studio-") as server:
        yield server


def _tasks(admin: httpx.Client, project: int) -> list[dict]:
    return admin.get("/api/tasks/", params={"project": project, "fields": "all", "page_size": 100}).json()[
        "tasks"
    ]


def _judge(ratings: list[int], model: str) -> str:
    """The judge's verdict in people's words: the winning source (the human answer or the model's) or tie."""
    human, llm = ratings
    return "human" if human > llm else model if llm > human else "tie"


def _kappa(people: list[str], judge: list[str]) -> float:
    """Cohen's kappa by its definition: (observed - expected) / (1 - expected)."""
    n = len(people)
    observed = sum(a == b for a, b in zip(people, judge, strict=True)) / n
    p, j = Counter(people), Counter(judge)
    expected = sum(p[label] * j[label] for label in set(p) | set(j)) / n**2
    return (observed - expected) / (1 - expected)


def _alpha(units: list[list[str]]) -> float:
    """Krippendorff's alpha for nominal data from its coincidence matrix."""
    coincidence: Counter = Counter()
    for values in units:
        m = len(values)
        for i, a in enumerate(values):
            for k, b in enumerate(values):
                if i != k:
                    coincidence[a, b] += 1 / (m - 1)
    totals: Counter = Counter()
    for (a, _), weight in coincidence.items():
        totals[a] += weight
    n = sum(totals.values())
    disagree = sum(w for (a, b), w in coincidence.items() if a != b) / n
    chance = sum(totals[a] * totals[b] for a in totals for b in totals if a != b) / (n * (n - 1))
    return 1 - disagree / chance


def test_review_loop(
    label_studio: LabelStudioServer, sample: pl.DataFrame, tmp_path: Path, monkeypatch
) -> None:
    configs = copy_configs(tmp_path / "languages")
    dutch = yaml.safe_load((configs / "nld.yaml").read_text(encoding="utf-8"))
    dutch["review"] = {
        "backend": "labelstudio",
        "url": label_studio.url,
        "votes_per_pair": 3,
        "max_open_pairs": OPEN,
        "guidelines": "Kies het antwoord dat het beste past bij de vraag.",
    }
    (configs / "nld.yaml").write_text(yaml.safe_dump(dutch, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    source, out = tmp_path / "nl.parquet", tmp_path / "out"
    dutch_source(sample, source)
    review_args = ["review", "nld", "--out", str(out), "--languages-dir", str(configs)]

    # 1. A run with review configured publishes its LLM results, then sends the first pairs.
    with OpenAIServer() as llm:
        code, output = invoke([*run_args(source, out, llm), "--languages-dir", str(configs)])
    assert code == 0, output
    admin = httpx.Client(base_url=label_studio.url, headers={"Authorization": f"Token {label_studio.token}"})
    (project,) = [
        p for p in admin.get("/api/projects/").json()["results"] if p["title"] == "nld Dutch preferences"
    ]
    assert project["maximum_annotations"] == 3
    tasks = _tasks(admin, project["id"])
    assert len(tasks) == OPEN
    raw = read(out, RAW, "data")
    ratings = dict(zip(raw["id"].to_list(), raw["ratings"].to_list(), strict=True))
    (model,) = set(raw["generation_model"].drop_nulls())  # one generator: every pair is human against it
    for task in tasks:  # what a page shows: the id, the prompt and two answers; no model, no rating, no side
        assert set(task["data"]) == {"id", "prompt", "answer_a", "answer_b"}
        assert task["data"]["id"] in ratings
    assert {t["meta"]["first_answer"] for t in tasks} == {"answer_a", "answer_b"}  # both orders occur

    # 2. Three people vote through the API, each with their own account.
    people = [label_studio.annotator(f"stem{i}@example.org") for i in range(3)]
    side = {t["id"]: {"human": t["meta"]["first_answer"]} for t in tasks}  # the human answer comes first
    for t in tasks:
        side[t["id"]][model] = "answer_b" if t["meta"]["first_answer"] == "answer_a" else "answer_a"
    judge = {t["id"]: _judge(ratings[t["data"]["id"]], model) for t in tasks}
    against = {tid: model if j != model else "human" for tid, j in judge.items()}
    agree = {tid: j if j != "tie" else "human" for tid, j in judge.items()}
    t0, t1, t2, t3, t4, t5 = (t["id"] for t in tasks)
    for person in people:  # t0: everyone against the judge; t1: everyone with it
        vote(person, t0, side[t0][against[t0]])
        vote(person, t1, side[t1][agree[t1]])
    vote(people[0], t2, side[t2]["human"])  # t2: two votes, too few
    vote(people[1], t2, side[t2][model])
    vote(people[0], t3, side[t3][model])  # t3: two votes and a skip
    vote(people[1], t3, side[t3][model])
    vote(people[2], t3, None, cancelled=True)
    vote(people[0], t4, side[t4]["human"])  # t4: one person votes twice; the later vote counts
    vote(people[0], t4, side[t4][model])
    vote(people[1], t4, side[t4][model])
    vote(people[2], t4, side[t4]["human"])
    # t5: nobody yet

    # 3. The sync folds the votes in, publishes, and fills the free places.
    code, output = invoke(review_args)
    assert code == 0, output
    raw = read(out, RAW, "data").filter(pl.col("review_pair").is_not_null())
    by_id = {row["id"]: row for row in raw.iter_rows(named=True)}
    row_of = {t["id"]: by_id[t["data"]["id"]] for t in tasks}
    assert row_of[t0]["human_preference"] == against[t0] and row_of[t0]["votes_submitted"] == 3
    assert row_of[t1]["human_preference"] == agree[t1]
    assert row_of[t2]["human_preference"] is None and row_of[t2]["votes_submitted"] == 2
    assert row_of[t3]["human_preference"] is None and row_of[t3]["votes_submitted"] == 2
    assert row_of[t4]["human_preference"] == model and row_of[t4]["votes_second"] == 2
    assert row_of[t4]["review_sources"] == ["human", model]
    assert row_of[t4]["votes_submitted"] == 3
    assert row_of[t5]["votes_submitted"] == 0
    annotators = {vote["annotator"] for row in raw.iter_rows(named=True) for vote in row["review_votes"]}
    assert len(annotators) == 3 and not any("@" in name for name in annotators)  # pseudonyms only

    human = read(out, CURATED, "human")
    decided = {row_of[t]["id"]: row_of[t]["human_preference"] for t in (t0, t1, t4)}
    assert set(human["id"]) == set(decided)
    for row in human.iter_rows(named=True):
        assert row["chosen_model"] == decided[row["id"]]
        assert row["judge_agreed"] == (_judge(ratings[row["id"]], model) == decided[row["id"]])
    default = read(out, CURATED, "default")
    reversed_pair = default.filter(pl.col("id") == row_of[t0]["id"])
    assert reversed_pair["preference_source"].to_list() == ["human"]
    assert reversed_pair["chosen_model"][0] == against[t0]
    assert set(default.filter(pl.col("preference_source") == "human")["id"]) <= set(decided)
    assert set(default["preference_source"]) <= {"human", "judge"}

    people_says = [decided[i] for i in sorted(decided)]
    judge_says = [_judge(ratings[i], model) for i in sorted(decided)]
    summary = _review_summary(output)
    assert summary["share"] == pytest.approx(
        sum(a == b for a, b in zip(people_says, judge_says, strict=True)) / 3, abs=1e-4
    )
    if len(set(people_says) | set(judge_says)) > 1:
        assert summary["kappa"] == pytest.approx(_kappa(people_says, judge_says), abs=1e-3)
    card = (out / CURATED / "README.md").read_text(encoding="utf-8")
    units = [
        [v["choice"] for v in row["review_votes"]]
        for row in raw.iter_rows(named=True)
        if len(row["review_votes"]) >= 2
    ]
    assert f"{_alpha(units):.3f}" in card
    assert len(_tasks(admin, project["id"])) == OPEN + 3  # three pairs decided: three more sent

    # 4. A second sync sends nothing and counts nothing twice; nothing is rewritten.
    before = {p: p.read_bytes() for p in (out / "dpo-factory").rglob("*") if p.is_file()}
    code, output = invoke(review_args)
    assert code == 0, output
    assert len(_tasks(admin, project["id"])) == OPEN + 3
    assert "sent 0" in output and "written:" not in output
    assert {p: p.read_bytes() for p in (out / "dpo-factory").rglob("*") if p.is_file()} == before
    # The server's key appears in no dataset, card, journal or summary.
    assert not any(label_studio.token.encode() in p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert label_studio.token not in output


def _review_summary(output: str) -> dict[str, float]:
    """The share and kappa from the `review` command's line for nld."""
    (line,) = [line for line in output.splitlines() if line.startswith("nld:") and "votes" in line]
    share = float(line.split("judge agreed on ")[1].split(" of ")[0])
    kappa = line.split("kappa ")[1].split(")")[0]
    return {"share": share, "kappa": float(kappa) if kappa != "-" else float("nan")}
