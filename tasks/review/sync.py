"""One review sync of a language: pull the votes, fold them in, publish what changed, send new pairs.

The order matters: what people decided is published before anything new goes out, and a sync that
fails halfway is simply the next sync's work (nothing here is counted twice: votes are folded from
the server's current state, keyed by annotation, and a pair already on the server is never sent again).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, Protocol

import polars as pl

from languages.review import REVIEW_BACKENDS, Review
from languages.schema import LanguageConfig
from tasks.format.rebuild import LAST_RUN_FILE, views
from tasks.llm.client import origin
from tasks.publish.destination import Destination
from tasks.publish.repos import DatasetRepo
from tasks.review.agreement import review_stats
from tasks.review.errors import ReviewError
from tasks.review.labelstudio import LabelStudio
from tasks.review.pairs import candidates, review_task
from tasks.review.votes import Task, fold_votes

# Where each backend's operator names the server and its key; a config's URL alone never gets a key.
SERVER_ENV = {
    "labelstudio": ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"),
    "argilla": ("ARGILLA_API_URL", "ARGILLA_API_KEY"),
}


class ReviewClient(Protocol):
    """What a sync needs of a backend (tasks/review/labelstudio.py, tasks/review/argilla.py)."""

    url: str
    requests: int

    def project(self, config: LanguageConfig) -> Any: ...

    def tasks(self, project: Any) -> list[Task]: ...

    def send(self, project: Any, tasks: list[dict[str, Any]]) -> int: ...

    def close(self) -> None: ...


def review_client(review: Review) -> ReviewClient:
    """The backend's client, with its key only if the operator named this very server."""
    if review.backend not in SERVER_ENV:
        raise ReviewError(
            f"review backend '{review.backend}' is not supported here (use {' or '.join(REVIEW_BACKENDS)})"
        )
    url_variable, key_variable = SERVER_ENV[review.backend]
    named, key = os.environ.get(url_variable), os.environ.get(key_variable)
    if not key or not named or origin(named) is None or origin(named) != origin(review.url):
        raise ReviewError(
            f"no API key for {review.url}: {key_variable} is sent only to the server {url_variable} "
            "names (same scheme, host and port); set both to use this review server"
        )
    if review.backend == "argilla":
        from tasks.review.argilla import Argilla  # the SDK takes seconds to import: only when used

        return Argilla(review.url, key)
    return LabelStudio(review.url, key)


def annotator_salt(review: Review) -> str:
    """The secret that turns server user ids into pseudonyms: REVIEW_SALT, else the server's API key."""
    return os.environ.get("REVIEW_SALT") or os.environ.get(SERVER_ENV[review.backend][1]) or review.url


def sync_review(
    config: LanguageConfig,
    raw: pl.DataFrame,
    client: ReviewClient,
    publish: Callable[[pl.DataFrame, dict[str, Any]], list[str]],
    generator_models: list[str] | None = None,
) -> dict[str, Any]:
    """Pull, fold, publish (through `publish(raw, report)`), then send; returns the sync's report.

    `generator_models` are the models whose answers the pairs may use, as the last run's views had
    them (`tasks/format/rebuild.py` `views`); None keeps every answer."""
    review = config.review
    assert review is not None
    project = client.project(config)
    tasks = client.tasks(project)
    salt = annotator_salt(review)
    folded, _ = fold_votes(raw, tasks, review.votes_per_pair, salt, generator_models)
    on_server = {task.pair for task in tasks}
    open_pairs = folded.filter(
        pl.col("review_pair").is_in(list(on_server)) & pl.col("human_preference").is_null()
    ).height
    room = max(review.max_open_pairs - open_pairs, 0)
    waiting = candidates(folded, config.curation, generator_models).filter(
        ~pl.col("pair").is_in(list(on_server)) & pl.col("human_preference").is_null()
    )
    chosen = waiting.head(room)
    outgoing = [review_task(row, row["pair"], generator_models) for row in chosen.iter_rows(named=True)]
    # The pairs about to go out are published as sent (no votes yet), so the next sync, which finds
    # them on the server, changes nothing. Should the sending fail, they are not on the server, and
    # the next sync sends them again.
    announced = [Task("", task["meta"]["pair"], task["meta"]["first_answer"]) for task in outgoing]
    folded, report = fold_votes(raw, tasks + announced, review.votes_per_pair, salt, generator_models)
    report["published"] = publish(folded, report)
    sent = client.send(project, outgoing)
    report.update(
        {
            "project": project,
            "server": client.url,
            "pulled_tasks": len(tasks),
            "sent_now": sent,
            "open_pairs": open_pairs + sent,
            "waiting_to_send": waiting.height - chosen.height,
            "requests": client.requests,
            **review_stats(folded),
        }
    )
    return report


def sync_language(
    config: LanguageConfig,
    destination: Destination,
    recipe_file: bytes,
    raw: pl.DataFrame | None,
    publish_repos: Callable[[list[DatasetRepo], Destination, str], list[str]],
) -> dict[str, Any]:
    """One sync of a language against its published `raw`; `publish_repos` writes what changed.

    The cards keep the facts of the last LLM run (source, models, filter counts), which the run
    published beside the raw data, since a sync runs no filter and calls no LLM; so do the pairs, which
    use the answers of the generator models the run's views used.
    """
    review = config.review
    if review is None:
        raise ReviewError(f"no `review:` block in the {config.code} config, so there is nothing to sync")
    client = review_client(review)
    try:
        if raw is None or raw.height == 0:
            raise ReviewError(f"nothing published for {config.code} yet: run it first")
        facts = destination.read_bytes(config.raw_repo, LAST_RUN_FILE)
        last_run = {
            "source": "",
            "generation_model": "",
            "judge_model": "",
            "filter": {"rows_in": 0, "dropped": {}},
        }
        last_run |= json.loads(facts) if facts else {}
        generator_models = last_run.get("generator_models")

        def publish(folded: pl.DataFrame, report: dict[str, Any]) -> list[str]:
            card = dict(last_run)
            repos = views(config, folded, card, recipe_file, generator_models)
            report["datasets"], report["quality"] = card["datasets"], card["quality"]
            return publish_repos(repos, destination, f"dpo-factory review: {config.code}, votes folded in")

        return sync_review(config, raw, client, publish, generator_models)
    finally:
        client.close()
