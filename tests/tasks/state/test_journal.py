from __future__ import annotations

from pathlib import Path

from tasks.state.journal import Journal, fingerprint


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


def test_another_generator_is_never_used(tmp_path: Path) -> None:
    path = tmp_path / "nld.jsonl"
    journal = Journal(path, fingerprint("model-a"))
    journal.record_generation("a", {"generation": "antwoord"})
    journal.record_row("b", {"status": "judged", "generation": "ander antwoord"})
    journal.close()
    fresh = Journal(path, fingerprint("model-b"))
    assert fresh.rows == {} and fresh.generations == {}


def test_a_judge_change_keeps_the_answers(tmp_path: Path) -> None:
    path = tmp_path / "nld.jsonl"
    journal = Journal(path, "generator-1", "judge-1")
    journal.record_row("a", {"status": "judged", "generation": "antwoord", "ratings": [4, 2]})
    journal.record_row("b", {"status": "failed", "generation": None, "failure_reason": "generation_error"})
    journal.close()
    other_judge = Journal(path, "generator-1", "judge-2")
    assert other_judge.rows == {}  # the judgement is another judge's
    assert other_judge.generations == {"a": {"generation": "antwoord"}}  # the answer is still good


def test_forget_drops_published_rows_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "nld.jsonl"
    journal = Journal(path, "g", "r")
    journal.record_row("a", {"status": "judged", "generation": "x"})
    journal.record_row("b", {"status": "judged", "generation": "y"})
    journal.record_generation("c", {"generation": "z"})
    journal.forget(["a"])
    again = Journal(path, "g", "r")
    assert set(again.rows) == {"b"} and set(again.generations) == {"c"}
    again.forget(["b", "c"])
    assert not path.exists()


def test_remove_deletes_the_file(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "nld.jsonl", "r")
    journal.record_row("a", {})
    journal.remove()
    assert not (tmp_path / "nld.jsonl").exists()
