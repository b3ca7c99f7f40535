from __future__ import annotations

from pathlib import Path

from tasks.journal import Journal, fingerprint


def test_events_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j" / "nld.jsonl"
    journal = Journal(path, "recipe-1")
    journal.record_generation("a", {"generation": "antwoord"})
    journal.record_row("b", {"status": "judged", "ratings": [4, 2]})
    journal.close()
    again = Journal(path, "recipe-1")
    assert again.generations == {"a": {"generation": "antwoord"}}
    assert again.rows == {"b": {"status": "judged", "ratings": [4, 2]}}


def test_a_line_cut_short_by_a_kill_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "nld.jsonl"
    journal = Journal(path, "r")
    journal.record_row("a", {"status": "judged"})
    journal.close()
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"event": "row", "id": "b", "da')
    assert set(Journal(path, "r").rows) == {"a"}


def test_another_recipe_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "nld.jsonl"
    journal = Journal(path, fingerprint("model-a"))
    journal.record_row("a", {"status": "judged"})
    journal.close()
    fresh = Journal(path, fingerprint("model-b"))
    assert fresh.rows == {}
    assert not path.exists()
    assert (tmp_path / "nld.stale.jsonl").is_file()


def test_remove_deletes_the_file(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "nld.jsonl", "r")
    journal.record_row("a", {})
    journal.remove()
    assert not (tmp_path / "nld.jsonl").exists()
