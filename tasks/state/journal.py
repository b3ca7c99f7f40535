"""A checkpoint of LLM results as they arrive, so a killed run resumes without paying twice.

One JSON line per event, appended and flushed at once: `generation` when a row's answer arrives,
`row` when the row is finished (judged or failed). A process killed with SIGKILL loses at most the
requests that were in flight.

Each event carries the fingerprint of what decided it. An answer depends on its generator alone
(model, system prompt, sampling), so answers stay valid when only the judge changes or another
generator model joins; a finished row depends on the whole recipe. A run knows one recipe per
generator model; answers are kept per (row, recipe). Events of another recipe are never used, and a
finished row of another judge still gives back its answers. A finished row also carries the run that made its
requests (`run_id`, `run_at`), so a row that was published and then found again in the journal (a
kill between a checkpoint and forgetting it) is known as the same attempt, not a new one.

Rows are forgotten once they are published (by a checkpoint or the final publish): the published raw
dataset is then their record. Rows that are not published yet are never deleted, whatever their
recipe. A line cut short by a kill is skipped when read, and the next event starts on a line of its
own. The journal lives on the worker's disk: a fresh machine resumes from what was published instead.
Recording and forgetting may happen in two threads (the LLM stage and a checkpoint): one lock
keeps the file and the tables consistent.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any


def fingerprint(*parts: object) -> str:
    """A short hash of everything that decides what an LLM call returns."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Journal:
    """Append-only JSONL checkpoint for one language's LLM stage.

    `generations[row id][generator recipe]` holds the answers bought; `rows[row id]` the finished rows.
    """

    def __init__(
        self,
        path: Path,
        generation_recipes: str | list[str],
        row_recipe: str | None = None,
        run_id: str | None = None,
        run_at: str | None = None,
    ) -> None:
        self.path = path
        recipes = [generation_recipes] if isinstance(generation_recipes, str) else list(generation_recipes)
        self.generation_recipes = recipes
        self.row_recipe = row_recipe or fingerprint(recipes)
        self.run_id, self.run_at = run_id, run_at
        self.generations: dict[str, dict[str, str]] = {}
        self.rows: dict[str, dict[str, Any]] = {}
        # Events of other recipes: unused by this run, kept until their row is published.
        self._other: list[dict[str, Any]] = []
        self._handle: IO[str] | None = None
        self._lock = threading.RLock()
        self._read()

    def _keep_answers(self, row_id: str, event: dict[str, Any], data: dict[str, Any]) -> None:
        """The answers of this run's generators that an event holds (one, or a finished row's list)."""
        recipes, texts = data.get("generation_recipes"), data.get("generations")
        if recipes and texts and len(recipes) == len(texts):
            pairs = list(zip(recipes, texts, strict=True))
        else:
            pairs = [(event.get("generation_recipe"), data.get("generation"))]
        for recipe, text in pairs:
            if recipe in self.generation_recipes and text is not None:
                self.generations.setdefault(row_id, {}).setdefault(recipe, text)

    def _read(self) -> None:
        if not self.path.is_file():
            return
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
                kind, row_id, data = event["event"], event["id"], event["data"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short by a kill, or an older format: its call is made again
            if kind == "row" and event.get("recipe") == self.row_recipe:
                self.rows[row_id] = data
                continue
            self._keep_answers(row_id, event, data)  # a row finished under another judge keeps its answers
            if kind == "row" or event.get("generation_recipe") not in self.generation_recipes:
                self._other.append(event)

    def _open(self) -> IO[str]:
        """The file for appending; a last line cut short by a kill is ended first, so the next event
        is not glued onto it (one unreadable line would then hold two events)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a", encoding="utf-8")
        if handle.tell() > 0:
            with self.path.open("rb") as existing:
                existing.seek(-1, os.SEEK_END)
                if existing.read(1) != b"\n":
                    handle.write("\n")
        return handle

    def _write(self, event: dict[str, Any]) -> None:
        if self._handle is None:
            self._handle = self._open()
        self._handle.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
        self._handle.flush()  # in the kernel's hands: survives the process being killed

    def record_generation(self, row_id: str, recipe: str, generation: str) -> None:
        with self._lock:
            self.generations.setdefault(row_id, {})[recipe] = generation
            self._write(
                {
                    "event": "generation",
                    "id": row_id,
                    "generation_recipe": recipe,
                    "data": {"generation": generation},
                }
            )

    def record_row(self, row_id: str, data: dict[str, Any]) -> None:
        if self.run_id is not None:
            data = {**data, "run_id": self.run_id, "run_at": self.run_at}
        with self._lock:
            self.rows[row_id] = data
            event = {"event": "row", "id": row_id, "recipe": self.row_recipe}
            self._write({**event, "data": data})

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    def forget(self, published: Iterable[str]) -> None:
        """Drop the events of rows that are now published; keep everything else, rewritten atomically.

        Events of other recipes are kept unless their row is published too.
        """
        done = set(published)
        with self._lock:
            self.close()
            for row_id in done:
                self.rows.pop(row_id, None)
                self.generations.pop(row_id, None)
            self._other = [event for event in self._other if event["id"] not in done]
            events = (
                self._other
                + [
                    {"event": "generation", "id": i, "generation_recipe": r, "data": {"generation": text}}
                    for i, answers in self.generations.items()
                    if i not in self.rows
                    for r, text in answers.items()
                ]
                + [
                    {"event": "row", "id": i, "recipe": self.row_recipe, "data": d}
                    for i, d in self.rows.items()
                ]
            )
            if not events:
                self.path.unlink(missing_ok=True)
                return
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(
                "".join(json.dumps(e, ensure_ascii=False, default=str) + "\n" for e in events),
                encoding="utf-8",
            )
            os.replace(temporary, self.path)

    def remove(self) -> None:
        """Delete the journal (every row in it is published)."""
        with self._lock:
            self.close()
            self.path.unlink(missing_ok=True)
