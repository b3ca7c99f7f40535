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


def test_a_cut_last_line_does_not_swallow_the_next_event(tmp_path: Path) -> None:
    """A kill in the middle of a write leaves a line with no end; the next run's first event must
    start a line of its own, or it is lost with the cut one."""
    path = tmp_path / "nld.jsonl"
    journal = Journal(path, "r")
    journal.record_row("a", {"status": "judged"})
    journal.close()
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"event": "row", "id": "b", "da')
    next_run = Journal(path, "r")
    next_run.record_row("c", {"status": "judged"})
    next_run.record_generation("d", {"generation": "antwoord"})
    next_run.close()
    again = Journal(path, "r")
    assert set(again.rows) == {"a", "c"} and set(again.generations) == {"d"}


def test_rows_carry_the_run_that_made_them(tmp_path: Path) -> None:
    path = tmp_path / "nld.jsonl"
    journal = Journal(path, "g", "r", run_id="run-1", run_at="2026-01-01T00:00:00+00:00")
    journal.record_row("a", {"status": "failed"})
    journal.close()
    later = Journal(path, "g", "r", run_id="run-2")
    assert later.rows["a"] == {"status": "failed", "run_id": "run-1", "run_at": "2026-01-01T00:00:00+00:00"}


def test_forget_while_another_thread_records(tmp_path: Path) -> None:
    """A checkpoint forgets published rows in its thread while the LLM stage keeps recording."""
    import threading

    path = tmp_path / "nld.jsonl"
    journal = Journal(path, "g", "r")
    stop = threading.Event()
    failures: list[BaseException] = []

    def record() -> None:
        try:
            for index in range(2000):
                journal.record_row(f"new-{index}", {"status": "judged"})
        except Exception as exc:
            failures.append(exc)
        finally:
            stop.set()

    writer = threading.Thread(target=record)
    writer.start()
    forgotten: set[str] = set()
    while not stop.is_set():
        published = [row_id for row_id in list(journal.rows) if row_id not in forgotten][:50]
        journal.forget(published)
        forgotten.update(published)
    writer.join()
    journal.close()
    assert failures == []
    assert set(Journal(path, "g", "r").rows) == {f"new-{i}" for i in range(2000)} - forgotten
