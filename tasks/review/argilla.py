"""Argilla 2.x through its official SDK (`argilla`): one dataset per language, pairs in, responses out.

The dataset (`nld-dutch-preferences` in workspace `argilla`, the one an Argilla Space's Hugging Face
sign-in puts volunteers in) shows three text fields, the prompt and both answers, and asks one label
question: answer A, answer B, or both about the same. `TaskDistribution(min_submitted=votes_per_pair)`
stops showing a record once enough people have submitted. A record's id is its pair key, so sending a
pair twice updates it instead of adding a second; its metadata (`pair`, `first_answer`, `row_id`;
`human_answer` in records sent before there were several generators) is extra metadata, which argilla-server shows to owners and workspace admins, never to annotators.

Everything goes through the SDK except the pull: the SDK's record model keeps a response's values,
status and user but drops its id and times, and the fold needs both (a vote's key, and when a pair
was decided). So `tasks` reads the route the SDK's own iterator reads (`GET /api/v1/datasets/{id}/
records?include=responses`, 1,000 records a page, in insertion order) over the SDK's HTTP client.
Submitted responses are votes, discarded ones are skips, drafts are not counted at all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import argilla as rg
import httpx
from argilla._exceptions import ArgillaError

from languages.review import Review
from languages.schema import LanguageConfig
from tasks.review.errors import ReviewError
from tasks.review.pairs import SIDES, task_first_side
from tasks.review.votes import TIE, Annotation, Task

WORKSPACE = "argilla"  # the workspace of Argilla's Space template, which HF sign-ins join
CHOICE = "preference"
LABELS = {SIDES[0]: "Answer A", SIDES[1]: "Answer B", TIE: "About the same"}
FIELDS = {"prompt": "Prompt", SIDES[0]: "Answer A", SIDES[1]: "Answer B"}
PAGE_SIZE = 1_000  # argilla-server's largest page
UPSERT_BATCH = 500  # argilla-server's largest bulk upsert


def dataset_name(config: LanguageConfig) -> str:
    """One dataset per language, named by its code and name: `nld-dutch-preferences`."""
    return f"{config.code}-{re.sub(r'[^a-z0-9]+', '-', config.name.lower()).strip('-')}-preferences"


def guidelines_text(review: Review) -> str | None:
    """The config's guidelines, or None when there are none (the server refuses an empty text).

    The SDK reads a guidelines string that names an existing file as that file's contents and
    uploads them, where every annotator reads them: a contributed config could name a secret on the
    worker (`/proc/self/environ`). Such guidelines are refused.
    """
    text = review.guidelines.strip()
    if not text:
        return None
    if os.path.exists(text):
        raise ReviewError(
            "review.guidelines names a file on this machine, which the Argilla SDK would upload in "
            "their place; write the guidelines themselves"
        )
    return text


def dataset_settings(review: Review, guidelines: str | None) -> rg.Settings:
    """Prompt and answers as plain text (no Markdown, no HTML), one required label question."""
    return rg.Settings(
        fields=[rg.TextField(name=name, title=title, use_markdown=False) for name, title in FIELDS.items()],
        questions=[rg.LabelQuestion(name=CHOICE, title="Which answer is better?", labels=LABELS)],
        guidelines=guidelines,
        allow_extra_metadata=True,
        distribution=rg.TaskDistribution(min_submitted=review.votes_per_pair),
    )


def _utc(text: Any) -> str:
    """argilla-server's times are naive UTC; say so, as Label Studio's do."""
    text = str(text or "")
    return text + "Z" if text and text[-1] != "Z" and "+" not in text[10:] else text


def _choice(response: dict[str, Any]) -> str | None:
    value = ((response.get("values") or {}).get(CHOICE) or {}).get("value")
    return value if value in LABELS else None


def _task(record: dict[str, Any]) -> Task | None:
    meta = record.get("metadata") or {}
    if not meta.get("pair") or task_first_side(meta) is None:
        return None  # not a record this dataset was sent (added by hand): never counted
    annotations = [
        Annotation(
            id=f"argilla:{record['id']}:{response['id']}",
            user=str(response.get("user_id")),
            choice=_choice(response),
            cancelled=response.get("status") == "discarded",
            submitted_at=_utc(response.get("updated_at") or response.get("inserted_at")),
        )
        for response in record.get("responses") or []
        if response.get("status") in ("submitted", "discarded")  # a draft is not a vote yet
    ]
    return Task(
        id=str(record["id"]),
        pair=meta["pair"],
        first_side=str(task_first_side(meta)),
        annotations=annotations,
    )


class Argilla:
    """A language's review dataset on one Argilla server; every failure is one ReviewError line.

    The SDK client connects (`GET /api/v1/me`) on first use, not here, so choosing a client costs
    nothing and a refused key fails the sync like any other call. `requests` counts every HTTP
    request, the SDK's included.
    """

    def __init__(self, url: str, api_key: str, timeout: float = 60.0, retries: int = 5) -> None:
        self.url = url.rstrip("/")
        self.requests = 0
        self._key, self._timeout, self._retries = api_key, timeout, retries
        self._client: rg.Argilla | None = None
        self._datasets: dict[str, rg.Dataset] = {}
        self._failed: tuple[str, str, int] | None = None

    def close(self) -> None:
        if self._client is not None:
            self._client.http_client.close()

    def _count(self, request: httpx.Request) -> None:
        self.requests += 1

    def _note(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            self._failed = (response.request.method, response.request.url.path, response.status_code)

    def _connect(self) -> rg.Argilla:
        if self._client is None:
            self._client = rg.Argilla(
                api_url=self.url,
                api_key=self._key,
                timeout=self._timeout,
                retries=self._retries,
                event_hooks={"request": [self._count], "response": [self._note]},
            )
        return self._client

    @contextmanager
    def _calls(self, doing: str) -> Iterator[None]:
        """SDK and HTTP errors as one line naming the server, the refused request and its status."""
        self._failed = None
        try:
            yield
        except httpx.TransportError as exc:
            raise ReviewError(f"Argilla at {self.url} is unreachable ({type(exc).__name__})") from None
        except (ArgillaError, httpx.HTTPError, ValueError, KeyError) as exc:
            if self._failed is None:
                raise ReviewError(f"Argilla at {self.url}: {doing} failed ({type(exc).__name__})") from None
            method, path, status = self._failed
            if status == 401:
                raise ReviewError(
                    f"Argilla at {self.url} refused the API key (HTTP 401): check ARGILLA_API_KEY "
                    "(the owner's key, under My settings)"
                ) from None
            hint = ": the API key must be an owner's" if status == 403 else ""
            raise ReviewError(
                f"Argilla at {self.url}: {method} {path} failed (HTTP {status}) while {doing}{hint}"
            ) from None

    def _workspace(self, client: rg.Argilla) -> rg.Workspace:
        for workspace in client.workspaces.list():
            if workspace.name == WORKSPACE:
                return workspace
        return rg.Workspace(name=WORKSPACE, client=client).create()

    def project(self, config: LanguageConfig) -> str:
        """The language's dataset id, the dataset created on first use (or again, if deleted by hand).

        An existing dataset is brought in line with the config's `votes_per_pair` and guidelines: a
        server still completing records at 3 submissions would never let 5 votes come in.
        """
        review = config.review
        assert review is not None
        guidelines = guidelines_text(review)
        name = dataset_name(config)
        with self._calls("finding or creating the dataset"):
            client = self._connect()
            workspace = self._workspace(client)
            found = next((dataset for dataset in workspace.datasets if dataset.name == name), None)
            if found is not None and found._model.status != "ready":
                # A creation that stopped between create and publish (the SDK rolls back the rest):
                # a draft takes no records, so it holds no votes.
                found.delete()
                found = None
            if found is None:
                settings = dataset_settings(review, guidelines)
                dataset = rg.Dataset(name=name, workspace=workspace, settings=settings, client=client)
                dataset.create()
            else:
                dataset = found.get()
                if (dataset.settings.distribution.min_submitted, dataset.guidelines) != (
                    review.votes_per_pair,
                    guidelines,
                ):
                    dataset.settings.distribution = rg.TaskDistribution(min_submitted=review.votes_per_pair)
                    dataset.settings.guidelines = guidelines
                    dataset.update()
        self._datasets[str(dataset.id)] = dataset
        return str(dataset.id)

    def _dataset(self, project: str) -> rg.Dataset:
        """A dataset this client has not looked up by name (`project` came from another client)."""
        found = self._connect().datasets(id=project)
        if found is None:
            raise ReviewError(f"Argilla at {self.url} has no dataset {project}")
        self._datasets[project] = found.get()
        return self._datasets[project]

    def tasks(self, project: str) -> list[Task]:
        """Every record this dataset was sent, with everyone's responses, `PAGE_SIZE` records a request."""
        found: list[Task] = []
        offset = 0
        with self._calls("pulling responses"):
            http = self._connect().http_client
            while True:
                response = http.get(
                    f"/api/v1/datasets/{project}/records",
                    params={"include": "responses", "offset": offset, "limit": PAGE_SIZE},
                )
                response.raise_for_status()
                records = response.json()["items"]
                found += [task for record in records if (task := _task(record)) is not None]
                if len(records) < PAGE_SIZE:
                    break
                offset += len(records)
        return found

    def send(self, project: str, tasks: list[dict[str, Any]]) -> int:
        """Log review tasks as records, `UPSERT_BATCH` a request; a pair already there is updated, not added."""
        if not tasks:
            return 0
        records = [
            rg.Record(
                id=task["meta"]["pair"],
                fields={name: task["data"][name] for name in FIELDS},
                metadata={**task["meta"], "row_id": task["data"]["id"]},
            )
            for task in tasks
        ]
        with self._calls("sending pairs"):
            dataset = self._datasets.get(project) or self._dataset(project)
            dataset.records.log(records, batch_size=min(UPSERT_BATCH, len(records)))
        return len(records)
