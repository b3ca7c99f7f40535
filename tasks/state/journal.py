"""A checkpoint of LLM results as they arrive, so a killed run resumes without paying twice.

One JSON line per event, appended and flushed at once: `generation` when a row's answer arrives,
`row` when the row is finished (judged or failed). A process killed with SIGKILL loses at most the
requests that were in flight.

Each event carries the fingerprint of what decided it. An answer depends on the generator alone
(endpoint, model, system prompt, sampling), so answers stay valid when only the judge changes; a
finished row depends on the whole recipe. Events of another recipe are never used, and a finished
row of another judge still gives back its answer. Rows are forgotten once they are published:
the published raw dataset is then their record. Rows that are not published yet are never deleted.
The journal lives on the worker's disk: a fresh machine resumes from what was published instead.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any


def fingerprint(*parts: object) -> str:
    """A short hash of everything that decides what an LLM call returns."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Journal:
    """Append-only JSONL checkpoint for one language's LLM stage."""

    def __init__(self, path: Path, generation_recipe: str, row_recipe: str | None = None) -> None:
        self.path = path
        self.generation_recipe = generation_recipe
        self.row_recipe = row_recipe or generation_recipe
        self.generations: dict[str, dict[str, Any]] = {}
        self.rows: dict[str, dict[str, Any]] = {}
        self._handle: IO[str] | None = None
        self._read()

    def _read(self) -> None:
        if not self.path.is_file():
            return
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
                kind, row_id, data = event["event"], event["id"], event["data"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short by a kill, or an older format: its call is made again
            same_generator = event.get("generation_recipe") == self.generation_recipe
            if kind == "row" and event.get("recipe") == self.row_recipe:
                self.rows[row_id] = data
            elif same_generator and (kind == "generation" or data.get("generation") is not None):
                # A row finished under another judge still holds a valid answer.
                self.generations.setdefault(row_id, {"generation": data["generation"]})

    def _write(self, event: dict[str, Any]) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        self._handle.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
        self._handle.flush()  # in the kernel's hands: survives the process being killed

    def record_generation(self, row_id: str, data: dict[str, Any]) -> None:
        self.generations[row_id] = data
        self._write(
            {"event": "generation", "id": row_id, "generation_recipe": self.generation_recipe, "data": data}
        )

    def record_row(self, row_id: str, data: dict[str, Any]) -> None:
        self.rows[row_id] = data
        event = {"event": "row", "id": row_id, "recipe": self.row_recipe}
        self._write({**event, "generation_recipe": self.generation_recipe, "data": data})

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def forget(self, published: Iterable[str]) -> None:
        """Drop the events of rows that are now published; keep everything else, rewritten atomically.

        Events of other recipes are dropped too: they can never be used again.
        """
        self.close()
        done = set(published)
        for row_id in done:
            self.rows.pop(row_id, None)
            self.generations.pop(row_id, None)
        if not self.rows and not self.generations:
            self.path.unlink(missing_ok=True)
            return
        events = [
            {"event": "generation", "id": i, "generation_recipe": self.generation_recipe, "data": d}
            for i, d in self.generations.items()
            if i not in self.rows
        ] + [
            {
                "event": "row",
                "id": i,
                "recipe": self.row_recipe,
                "generation_recipe": self.generation_recipe,
                "data": d,
            }
            for i, d in self.rows.items()
        ]
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(
            "".join(json.dumps(e, ensure_ascii=False, default=str) + "\n" for e in events), encoding="utf-8"
        )
        os.replace(temporary, self.path)

    def remove(self) -> None:
        """Delete the journal (every row in it is published)."""
        self.close()
        self.path.unlink(missing_ok=True)
