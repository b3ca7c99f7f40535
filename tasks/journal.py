"""A checkpoint of LLM results as they arrive, so a killed run resumes without paying twice.

One JSON line per event, appended and flushed at once: `generation` when a row's answer arrives,
`row` when the row is finished (judged or failed). A process killed with SIGKILL loses at most the
requests that were in flight. The first line holds a fingerprint of the recipe (models, endpoints,
settings, system prompt); a journal from a different recipe is set aside, never mixed in. After a
successful publish the journal is deleted: the published raw dataset is then the record.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)


def fingerprint(*parts: object) -> str:
    """A short hash of everything that decides what an LLM call returns."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Journal:
    """Append-only JSONL checkpoint for one language's LLM stage."""

    def __init__(self, path: Path, recipe: str) -> None:
        self.path = path
        self.recipe = recipe
        self.generations: dict[str, dict[str, Any]] = {}
        self.rows: dict[str, dict[str, Any]] = {}
        self._handle: IO[str] | None = None
        self._read()

    def _read(self) -> None:
        if not self.path.is_file():
            return
        lines = self.path.read_text(encoding="utf-8").splitlines()
        try:
            header = json.loads(lines[0]) if lines else {}
        except json.JSONDecodeError:
            header = {}
        if header.get("recipe") != self.recipe:
            stale = self.path.with_suffix(".stale.jsonl")
            self.path.replace(stale)
            logger.warning("journal %s is from another recipe; set aside as %s", self.path, stale.name)
            return
        for line in lines[1:]:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill: its call is simply made again
            target = self.rows if event.get("event") == "row" else self.generations
            target[event["id"]] = event["data"]

    def _write(self, event: dict[str, Any]) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fresh = not self.path.exists()
            self._handle = self.path.open("a", encoding="utf-8")
            if fresh:
                self._handle.write(json.dumps({"recipe": self.recipe}) + "\n")
        self._handle.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
        self._handle.flush()  # in the kernel's hands: survives the process being killed

    def record_generation(self, row_id: str, data: dict[str, Any]) -> None:
        self.generations[row_id] = data
        self._write({"event": "generation", "id": row_id, "data": data})

    def record_row(self, row_id: str, data: dict[str, Any]) -> None:
        self.rows[row_id] = data
        self._write({"event": "row", "id": row_id, "data": data})

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def remove(self) -> None:
        """Delete the journal once its rows are published."""
        self.close()
        self.path.unlink(missing_ok=True)
