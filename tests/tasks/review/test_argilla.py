"""The Argilla backend through the official SDK, against a local stand-in of argilla-server's REST API
(tests/argilla_stand_in.py): the real server needs Elasticsearch or OpenSearch, which cannot run here."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import argilla as rg
import polars as pl
import pytest

import tasks.review.argilla as argilla_backend
from languages.review import Review
from languages.schema import LanguageConfig
from tasks.review.argilla import Argilla, dataset_name
from tasks.review.errors import ReviewError
from tasks.review.pairs import current_keys, first_side, review_task
from tasks.review.sync import review_client, sync_review
from tasks.review.votes import annotator_id, fold_votes
from tests.argilla_stand_in import ArgillaStandIn


@pytest.fixture
def server() -> Iterator[ArgillaStandIn]:
    with ArgillaStandIn() as stand_in:
        yield stand_in


def _config(dutch: LanguageConfig, url: str, **review: Any) -> LanguageConfig:
    settings = {"guidelines": "Kies het antwoord dat het beste past.", "max_open_pairs": 3} | review
    return dutch.model_copy(update={"review": Review(backend="argilla", url=url, **settings)})


def _raw(rows: int) -> pl.DataFrame:
    """Judged rows whose human and LLM answers differ: each is a pair worth sending."""
    return pl.DataFrame(
        {
            "id": [f"row-{i}" for i in range(rows)],
            "instruction": [f"Vraag {i}: wat is <b>vet</b>?" for i in range(rows)],
            "generations": [
                [f"Het menselijke antwoord nummer {i}.", f"A generated reply, number {i}."]
                for i in range(rows)
            ],
            "generation_models": [["human", "model-x"]] * rows,
            "ratings": [[4, 3 - i % 2] for i in range(rows)],
            "status": ["judged"] * rows,
            "excluded_reason": [None] * rows,
            "generation_language_ok": [True] * rows,
            "position_consistent": [True] * rows,
        },
        schema_overrides={"excluded_reason": pl.String},
    )


def _tasks(raw: pl.DataFrame) -> list[dict[str, Any]]:
    keys = current_keys(raw).to_list()
    return [review_task(row, key) for row, key in zip(raw.iter_rows(named=True), keys, strict=True)]


def _side(key: str, choice: str) -> str:
    """The label a person clicks to choose the human answer, the LLM one, or a tie."""
    if choice == "tie":
        return "tie"
    human = first_side(key)  # the human answer is the first of these pairs
    return human if choice == "human" else ("answer_b" if human == "answer_a" else "answer_a")


def test_a_dataset_is_created_once_and_a_pair_is_sent_once(
    server: ArgillaStandIn, dutch: LanguageConfig
) -> None:
    config, raw = _config(dutch, server.url), _raw(3)
    client = Argilla(server.url, server.api_key)
    project = client.project(config)
    (dataset,) = server.datasets.values()
    assert (dataset["id"], dataset["name"], dataset["status"]) == (project, "nld-dutch-preferences", "ready")
    assert dataset["distribution"] == {"strategy": "overlap", "min_submitted": 3}
    assert dataset["guidelines"] == "Kies het antwoord dat het beste past."
    assert server.workspaces[dataset["workspace_id"]]["name"] == "argilla"
    fields = {f["name"]: f["settings"] for f in server.fields.values()}
    assert fields == {
        name: {"type": "text", "use_markdown": False} for name in ("prompt", "answer_a", "answer_b")
    }
    (question,) = server.questions.values()
    assert [o["value"] for o in question["settings"]["options"]] == ["answer_a", "answer_b", "tie"]

    assert client.send(project, _tasks(raw)) == 3
    keys = current_keys(raw).to_list()
    records = sorted(server.records.values(), key=lambda r: r["inserted_at"])
    assert [r["external_id"] for r in records] == keys  # the record id is the pair key
    for record, row in zip(records, raw.iter_rows(named=True), strict=True):
        # What a page shows: the prompt and two answers; no model name, no rating, no side.
        assert set(record["fields"]) == {"prompt", "answer_a", "answer_b"}
        assert record["fields"]["prompt"] == row["instruction"]
        assert sorted([record["fields"]["answer_a"], record["fields"]["answer_b"]]) == sorted(
            row["generations"]
        )
        side = record["metadata"]["first_answer"]
        assert record["fields"][side] == row["generations"][0]
        assert record["metadata"] == {
            "pair": record["external_id"],
            "first_answer": side,
            "row_id": row["id"],
        }

    fresh = Argilla(server.url, server.api_key)  # a client that did not look the dataset up itself
    assert fresh.send(project, _tasks(raw)) == 3  # a second send updates the same records
    fresh.close()
    assert len(server.records) == 3
    assert server.requests[-1]["path"].endswith("/records/bulk")
    assert len(server.requests[-1]["body"]["items"]) == 3
    again = Argilla(server.url, server.api_key)
    assert again.project(config) == project
    assert "POST /api/v1/datasets" not in server.routes_called()[client.requests + fresh.requests :]
    assert client.requests + fresh.requests + again.requests == len(server.requests)  # all counted
    client.close()
    again.close()


def test_votes_from_three_people_fold_into_verdicts(server: ArgillaStandIn, dutch: LanguageConfig) -> None:
    raw = _raw(3)
    client = Argilla(server.url, server.api_key)
    project = client.project(_config(dutch, server.url))
    client.send(project, _tasks(raw))
    k0, k1, k2 = current_keys(raw).to_list()
    ann, bo, cy = (server.add_user(name, workspace="argilla") for name in ("ann", "bo", "cy"))
    server.annotate(ann, k0, _side(k0, "llm"))  # k0: all three against the human answer
    server.annotate(bo, k0, _side(k0, "llm"))
    server.annotate(cy, k0, _side(k0, "llm"))
    server.annotate(ann, k1, _side(k1, "human"))  # k1: one vote, a discard and a draft
    server.annotate(bo, k1, None, status="discarded")
    server.annotate(cy, k1, _side(k1, "human"), status="draft")
    server.annotate(ann, k2, "tie")  # k2: two ties against one; one person changed their mind
    server.annotate(bo, k2, _side(k2, "human"))
    server.annotate(cy, k2, _side(k2, "human"))
    server.annotate(bo, k2, "tie")
    assert [server.record_of(k)["status"] for k in (k0, k1, k2)] == ["completed", "pending", "completed"]

    tasks = client.tasks(project)
    assert {task.pair for task in tasks} == {k0, k1, k2}
    by_pair = {task.pair: task for task in tasks}
    assert [(a.choice, a.cancelled) for a in by_pair[k1].annotations] == [
        (_side(k1, "human"), False),
        (None, True),
    ]
    assert all(a.submitted_at.endswith("Z") for t in tasks for a in t.annotations)

    folded, report = fold_votes(raw, tasks, 3, "salt")
    rows = {row["review_pair"]: row for row in folded.iter_rows(named=True)}
    assert rows[k0]["human_preference"] == "model-x" and rows[k0]["votes_second"] == 3
    assert rows[k0]["review_sources"] == ["human", "model-x"]
    assert rows[k1]["human_preference"] is None and rows[k1]["votes_submitted"] == 1
    assert rows[k2]["human_preference"] == "tie" and rows[k2]["votes_tie"] == 2
    assert report["ignored_annotations"] == {"cancelled": 1}
    people = {server.keys[key] for key in (ann, bo, cy)}
    assert {v["annotator"] for v in rows[k0]["review_votes"]} == {annotator_id(p, "salt") for p in people}
    last = max(
        r["updated_at"] for r in server.responses.values() if r["record_id"] == server.record_of(k0)["id"]
    )
    assert rows[k0]["human_decided_at"] == last + "Z"  # decided when the third vote came in
    client.close()


def test_pulls_come_in_pages(server: ArgillaStandIn, dutch: LanguageConfig, monkeypatch) -> None:
    raw = _raw(5)
    client = Argilla(server.url, server.api_key)
    project = client.project(_config(dutch, server.url))
    client.send(project, _tasks(raw))
    whole = client.tasks(project)
    monkeypatch.setattr(argilla_backend, "PAGE_SIZE", 2)
    before = len(server.requests)
    paged = client.tasks(project)
    assert paged == whole and len(paged) == 5
    pulls = server.requests[before:]
    assert [(r["query"]["offset"], r["query"]["limit"], r["query"]["include"]) for r in pulls] == [
        (["0"], ["2"], ["responses"]),
        (["2"], ["2"], ["responses"]),
        (["4"], ["2"], ["responses"]),
    ]
    client.close()


def test_records_added_by_hand_are_not_counted(server: ArgillaStandIn, dutch: LanguageConfig) -> None:
    client = Argilla(server.url, server.api_key)
    project = client.project(_config(dutch, server.url))
    client._datasets[project].records.log(
        [rg.Record(fields={"prompt": "p", "answer_a": "a", "answer_b": "b"})]
    )
    assert len(server.records) == 1 and client.tasks(project) == []
    client.close()


def test_a_refused_key_is_one_line(server: ArgillaStandIn, dutch: LanguageConfig) -> None:
    client = Argilla(server.url, "not-the-key-0123")
    with pytest.raises(ReviewError) as caught:
        client.project(_config(dutch, server.url))
    message = str(caught.value)
    assert "\n" not in message and "not-the-key-0123" not in message
    assert message == (
        f"Argilla at {server.url} refused the API key (HTTP 401): check ARGILLA_API_KEY "
        "(the owner's key, under My settings)"
    )
    assert [r["status"] for r in server.requests] == [401]


def test_an_annotators_key_cannot_create_the_dataset(server: ArgillaStandIn, dutch: LanguageConfig) -> None:
    key = server.add_user("volunteer", workspace="argilla")
    with pytest.raises(ReviewError, match=r"POST /api/v1/datasets failed \(HTTP 403\).*must be an owner's$"):
        Argilla(server.url, key).project(_config(dutch, server.url))


def test_an_unreachable_server_is_one_line(dutch: LanguageConfig) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens once closed
    with pytest.raises(ReviewError, match=rf"^Argilla at {url} is unreachable \(ConnectError\)$"):
        Argilla(url, "key-0123", retries=0).project(_config(dutch, url))


def test_guidelines_naming_a_file_are_refused(
    server: ArgillaStandIn, dutch: LanguageConfig, tmp_path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("HF_TOKEN=hf_secret", encoding="utf-8")
    with pytest.raises(ReviewError, match="names a file on this machine"):
        Argilla(server.url, server.api_key).project(_config(dutch, server.url, guidelines=str(secret)))
    assert server.requests == []  # nothing was sent anywhere


def test_an_existing_dataset_follows_the_config(server: ArgillaStandIn, dutch: LanguageConfig) -> None:
    project = Argilla(server.url, server.api_key).project(_config(dutch, server.url))
    changed = _config(dutch, server.url, votes_per_pair=5, guidelines="")
    assert Argilla(server.url, server.api_key).project(changed) == project
    assert server.datasets[project]["distribution"]["min_submitted"] == 5
    assert server.datasets[project]["guidelines"] is None


def test_a_draft_left_by_a_stopped_creation_is_replaced(
    server: ArgillaStandIn, dutch: LanguageConfig
) -> None:
    config = _config(dutch, server.url)
    client = Argilla(server.url, server.api_key)
    client._connect()
    workspace = client._workspace(client._client)
    server.answer(
        "POST",
        "/api/v1/datasets",
        {},
        f'{{"name": "{dataset_name(config)}", "workspace_id": "{workspace.id}"}}'.encode(),
        server.api_key,
    )
    (draft,) = server.datasets
    project = client.project(config)
    assert project != draft and list(server.datasets) == [project]
    assert server.datasets[project]["status"] == "ready"


@pytest.mark.parametrize(
    "named",
    [None, "http://127.0.0.1:6901", "https://127.0.0.1:6900", "http://127.0.0.1.evil.example:6900"],
)
def test_the_key_goes_only_to_the_server_the_operator_named(monkeypatch, named: str | None) -> None:
    monkeypatch.setenv("ARGILLA_API_KEY", "argilla-key-123")
    if named:
        monkeypatch.setenv("ARGILLA_API_URL", named)
    else:
        monkeypatch.delenv("ARGILLA_API_URL", raising=False)
    with pytest.raises(ReviewError, match="is sent only to the server ARGILLA_API_URL names") as caught:
        review_client(Review(backend="argilla", url="http://127.0.0.1:6900"))
    assert "argilla-key-123" not in str(caught.value)


def test_the_named_server_gets_an_argilla_client(monkeypatch) -> None:
    monkeypatch.setenv("ARGILLA_API_KEY", "argilla-key-123")
    monkeypatch.setenv("ARGILLA_API_URL", "http://127.0.0.1:6900/")
    client = review_client(Review(backend="argilla", url="http://127.0.0.1:6900"))
    assert isinstance(client, Argilla) and client.url == "http://127.0.0.1:6900"
    assert client.requests == 0  # nothing sent until the sync uses it
    client.close()


def test_a_sync_end_to_end(server: ArgillaStandIn, dutch: LanguageConfig, monkeypatch) -> None:
    monkeypatch.setenv("REVIEW_SALT", "salt")
    config, raw = _config(dutch, server.url), _raw(5)
    published: list[pl.DataFrame] = []

    def publish(folded: pl.DataFrame, report: dict[str, Any]) -> list[str]:
        published.append(folded)
        return ["raw"]

    def sync() -> dict[str, Any]:
        client = Argilla(server.url, server.api_key)
        try:
            return sync_review(config, published[-1] if published else raw, client, publish)
        finally:
            client.close()

    first = sync()
    assert (first["pulled_tasks"], first["sent_now"], first["open_pairs"]) == (0, 3, 3)
    people = [server.add_user(name, workspace="argilla") for name in ("ann", "bo", "cy")]
    sent = [r["external_id"] for r in sorted(server.records.values(), key=lambda r: r["inserted_at"])]
    for key in sent[:2]:
        for person in people:
            server.annotate(person, key, _side(key, "human"))

    second = sync()
    assert (second["pulled_tasks"], second["sent_now"], second["human_verified_pairs"]) == (3, 2, 2)
    assert second["votes"] == 6 and second["requests"] > 0
    decided = published[-1].filter(pl.col("human_preference").is_not_null())
    assert set(decided["review_pair"]) == set(sent[:2]) and set(decided["human_preference"]) == {"human"}

    before = len(server.requests)
    third = sync()
    assert (third["pulled_tasks"], third["sent_now"], third["waiting_to_send"]) == (5, 0, 0)
    assert len(server.records) == 5
    assert not any(
        r["path"].endswith("/records/bulk") for r in server.requests[before:]
    )  # nothing sent twice
