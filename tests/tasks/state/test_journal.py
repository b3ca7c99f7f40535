from __future__ import annotations

from pathlib import Path

from tasks.state.journal import Journal, fingerprint


def test_events_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j" / "nld.jsonl"
    journal = Journal(path, "recipe-1")
    journal.record_generation("a", "recipe-1", "antwoord")
    journal.record_row("b", {"status": "judged", "ratings": [4, 2]})
    journal.close()
    again = Journal(path, "recipe-1")
    assert again.generations == {"a": {"recipe-1": "antwoord"}}
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
    journal.record_generation("a", fingerprint("model-a"), "antwoord")
    journal.record_row("b", {"status": "judged", "generations": ["mens", "ander antwoord"],
                             "generation_recipes": [None, fingerprint("model-a")]})  # fmt: skip
    journal.close()
    fresh = Journal(path, fingerprint("model-b"))
    assert fresh.rows == {} and fresh.generations == {}


def test_a_judge_change_keeps_the_answers(tmp_path: Path) -> None:
    path = tmp_path / "nld.jsonl"
    journal = Journal(path, "generator-1", "judge-1")
    journal.record_row("a", {"status": "judged", "generations": ["mens", "antwoord"],
                             "generation_recipes": [None, "generator-1"], "ratings": [4, 2]})  # fmt: skip
    journal.record_row(
        "b", {"status": "failed", "generations": ["mens"], "failure_reason": "generation_error"}
    )
    journal.close()
    other_judge = Journal(path, "generator-1", "judge-2")
    assert other_judge.rows == {}  # the judgement is another judge's
    assert other_judge.generations == {"a": {"generator-1": "antwoord"}}  # the answer is still good


def test_answers_are_kept_per_generator_and_a_new_one_reuses_the_others(tmp_path: Path) -> None:
    path = tmp_path / "nld.jsonl"
    journal = Journal(path, ["model-a", "model-b"], "panel-1")
    journal.record_generation("a", "model-a", "antwoord a")
    journal.record_row("b", {"status": "judged", "generations": ["mens", "b van a", "b van b"],
                             "generation_recipes": [None, "model-a", "model-b"]})  # fmt: skip
    journal.close()
    third = Journal(path, ["model-a", "model-b", "model-c"], "panel-2")
    assert third.rows == {}
    assert third.generations == {
        "a": {"model-a": "antwoord a"},
        "b": {"model-a": "b van a", "model-b": "b van b"},
    }
    fewer = Journal(path, ["model-b"], "panel-3")
    assert fewer.generations == {"b": {"model-b": "b van b"}}


def test_an_event_written_before_several_generators_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "nld.jsonl"
    path.write_text(
        '{"event": "row", "id": "a", "recipe": "old", "generation_recipe": "g", "data": {"generation": "x"}}\n'
        '{"event": "generation", "id": "b", "generation_recipe": "g", "data": {"generation": "y"}}\n',
        encoding="utf-8",
    )
    assert Journal(path, "g", "new").generations == {"a": {"g": "x"}, "b": {"g": "y"}}


def test_forget_drops_published_rows_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "nld.jsonl"
    journal = Journal(path, "g", "r")
    journal.record_row("a", {"status": "judged", "generation": "x"})
    journal.record_row("b", {"status": "judged", "generation": "y"})
    journal.record_generation("c", "g", "z")
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
    next_run.record_generation("d", "r", "antwoord")
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
