"""Label Studio over its REST API: one project per language, pairs in, annotations out, in pages.

The official `label-studio-sdk` pulls opencv, nltk and lxml into the environment for the five calls
this needs, so they go through httpx, which the project already has (docs/review.md has the sizes).
Calls: `GET/POST /api/projects`, `POST /api/projects/{id}/import`, `GET /api/tasks?project=..&fields=all`
(annotations included, `page_size` tasks a request).
"""

from __future__ import annotations

import html
from typing import Any

import httpx

from languages.schema import LanguageConfig
from tasks.review.errors import ReviewError
from tasks.review.pairs import SIDES, task_first_side
from tasks.review.votes import Annotation, Task

PAGE_SIZE = 1_000
IMPORT_BATCH = 500
CHOICE = "preference"  # the Pairwise tag's name; its left is answer_a, its right answer_b
_SELECTED = {"left": SIDES[0], "right": SIDES[1]}


def label_config(guidelines: str) -> str:
    """Text tags for the prompt and both answers, and a Pairwise choice between the answers.

    Text tags render their value as text, never as HTML: a prompt holding `<script>` shows as such.
    """
    header = f'  <Header value="{html.escape(guidelines, quote=True)}"/>\n' if guidelines else ""
    return (
        "<View>\n"
        f"{header}"
        '  <Header value="Prompt"/>\n'
        '  <Text name="prompt" value="$prompt"/>\n'
        '  <Header value="Which answer is better? Click it."/>\n'
        f'  <Pairwise name="{CHOICE}" toName="{SIDES[0]},{SIDES[1]}"/>\n'
        f'  <Text name="{SIDES[0]}" value="${SIDES[0]}"/>\n'
        f'  <Text name="{SIDES[1]}" value="${SIDES[1]}"/>\n'
        "</View>"
    )


def project_title(config: LanguageConfig) -> str:
    """One project per language, named by its code and name (Label Studio allows 50 characters)."""
    return f"{config.code} {config.name} preferences"[:50]


def _choice(annotation: dict[str, Any]) -> str | None:
    for item in annotation.get("result") or []:
        if item.get("type") == "pairwise" and item.get("from_name") == CHOICE:
            return _SELECTED.get((item.get("value") or {}).get("selected"))
    return None


def _task(entry: dict[str, Any]) -> Task | None:
    meta = entry.get("meta") or {}
    if not meta.get("pair") or task_first_side(meta) is None:
        return None  # not a task this project sent (added by hand): never counted
    annotations = [
        Annotation(
            id=f"ls:{entry['id']}:{item['id']}",
            user=str(item.get("completed_by")),
            choice=_choice(item),
            cancelled=bool(item.get("was_cancelled")),
            submitted_at=str(item.get("updated_at") or item.get("created_at") or ""),
        )
        for item in entry.get("annotations") or []
    ]
    return Task(
        id=str(entry["id"]), pair=meta["pair"], first_side=str(task_first_side(meta)), annotations=annotations
    )


class LabelStudio:
    """A language's review project on one Label Studio server; every failure is one ReviewError line."""

    # A page of 1,000 tasks took 30-49 s on a loaded 2-core server (docs/performance.md): room to spare.
    def __init__(self, url: str, api_key: str, timeout: float = 180.0) -> None:
        self.url = url.rstrip("/")
        self.requests = 0
        self._client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Token {api_key}"}, timeout=timeout
        )

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        self.requests += 1
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ReviewError(f"Label Studio at {self.url} is unreachable ({type(exc).__name__})") from None
        if response.status_code in (401, 403):
            raise ReviewError(
                f"Label Studio at {self.url} refused the API key (HTTP {response.status_code}): "
                "check LABEL_STUDIO_API_KEY (a legacy token)"
            )
        if response.status_code >= 400 and not (response.status_code == 404 and method == "GET"):
            raise ReviewError(
                f"Label Studio at {self.url}: {method} {path} failed (HTTP {response.status_code})"
            )
        return response

    def project(self, config: LanguageConfig) -> int:
        """The language's project, created on first use (or again, if it was deleted by hand)."""
        title = project_title(config)
        listing = self._call("GET", "/api/projects/", params={"title": title, "page_size": 100}).json()
        for project in listing.get("results", []) if isinstance(listing, dict) else listing:
            if project.get("title") == title:
                return int(project["id"])
        review = config.review
        assert review is not None
        created = self._call(
            "POST",
            "/api/projects/",
            json={
                "title": title,
                "description": f"Which answer is better? {config.name} prompts from the Aya dataset.",
                "label_config": label_config(review.guidelines),
                "expert_instruction": html.escape(review.guidelines),
                "show_instruction": bool(review.guidelines),
                "maximum_annotations": review.votes_per_pair,
                "overlap_cohort_percentage": 100,
                "show_skip_button": True,
            },
        )
        return int(created.json()["id"])

    def tasks(self, project: int) -> list[Task]:
        """Every task this project sent, with all its annotations, `PAGE_SIZE` tasks a request."""
        found: list[Task] = []
        page = 1
        while True:
            response = self._call(
                "GET",
                "/api/tasks/",
                params={"project": project, "fields": "all", "page": page, "page_size": PAGE_SIZE},
            )
            if response.status_code == 404:  # past the last page
                break
            entries = response.json().get("tasks", [])
            found += [task for entry in entries if (task := _task(entry)) is not None]
            if len(entries) < PAGE_SIZE:
                break
            page += 1
        return found

    def send(self, project: int, tasks: list[dict[str, Any]]) -> int:
        """Import review tasks, `IMPORT_BATCH` a request; returns how many the server took."""
        sent = 0
        for start in range(0, len(tasks), IMPORT_BATCH):
            batch = tasks[start : start + IMPORT_BATCH]
            answer = self._call("POST", f"/api/projects/{project}/import", json=batch).json()
            sent += int(answer.get("task_count", len(batch)))
        return sent
