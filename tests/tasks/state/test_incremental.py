from __future__ import annotations

from pathlib import Path

import polars as pl

from tasks.llm.client import PLACEHOLDER_MODEL
from tasks.state.incremental import Checkpointer, plan_rows
from tasks.state.journal import Journal


def kept(ids: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"id": ids, "inputs": [f"vraag {i}" for i in ids]})


def published(rows: list[tuple[str, str, str | None, str | None]]) -> pl.DataFrame:
    ids, statuses, generations, recipes = zip(*rows, strict=True)
    return pl.DataFrame(
        {
            "id": ids,
            "status": statuses,
            "generation": generations,
            "generation_model": ["m"] * len(ids),
            "generation_recipe": recipes,
        },
        schema_overrides={"generation": pl.String, "generation_recipe": pl.String},
    )


def test_paid_rows_go_first_and_do_not_count_against_the_limit(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl", "g", "r")
    journal.record_row("e", {"status": "judged"})
    journal.record_row("f", {"status": "judged"})
    journal.record_generation("d", "g", "antwoord")
    plan = plan_rows(kept(list("abcdef")), None, journal, "g", "m", limit=2)
    # e and f are paid for in full (free), d has its answer (one judge call), then new rows.
    assert plan.todo["id"].to_list() == ["e", "f", "d", "a"]
    assert plan.left_for_next_run == 2


def test_judged_and_given_up_rows_are_done_unless_retry_failed(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl", "g", "r")
    done = published([("a", "judged", "x", "g"), ("b", "gave_up", None, None), ("c", "failed", None, None)])
    plan = plan_rows(kept(list("abcd")), done, journal, "g", "m")
    assert plan.todo["id"].to_list() == ["c", "d"]
    assert (plan.already_published, plan.gave_up) == (1, 1)
    retry = plan_rows(kept(list("abcd")), done, journal, "g", "m", retry_failed=True)
    assert retry.todo["id"].to_list() == ["b", "c", "d"] and retry.gave_up == 0


def test_published_answers_are_reused_only_from_the_same_generator_settings(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl", "g", "r")
    done = published([("a", "failed", "same settings", "g"), ("b", "failed", "old system prompt", "g-old")])
    plan_rows(kept(["a", "b"]), done, journal, "g", "m")
    assert journal.generations == {"a": {"g": "same settings"}}


def test_checkpointer_publishes_every_n_rows_in_the_background() -> None:
    snapshots: list[int] = []
    checkpoints = Checkpointer(every=3, publish=lambda rows: snapshots.append(len(rows)) or [])
    for index in range(10):
        checkpoints.add({"id": str(index)})
        checkpoints.wait()  # let each checkpoint finish before the next row
    checkpoints.finish()
    assert snapshots == [3, 6, 9]
    assert checkpoints.published_checkpoints == 3


def test_a_failed_checkpoint_is_left_to_the_next_one() -> None:
    calls: list[int] = []

    def flaky(rows: list) -> list[str]:
        calls.append(len(rows))
        if len(calls) == 1:
            raise OSError("the Hub said 429")
        return []

    checkpoints = Checkpointer(every=2, publish=flaky)
    for index in range(4):
        checkpoints.add({"id": str(index)})
        checkpoints.wait()
    checkpoints.finish()
    assert calls == [2, 4] and checkpoints.published_checkpoints == 1


def test_journal_rows_a_checkpoint_published_are_forgotten_not_replayed(tmp_path: Path) -> None:
    """A run killed after a checkpoint published a row, before it forgot it: replaying the row from
    the journal would count an attempt that made no request."""
    path = tmp_path / "j.jsonl"
    killed = Journal(path, "g", "r", run_id="run-1")
    killed.record_row("a", {"status": "failed", "generation": None})  # published by run-1's checkpoint
    killed.record_row("b", {"status": "failed", "generation": None})  # not published
    killed.record_row("c", {"status": "judged", "generation": "x"})  # published judged by another run
    killed.close()
    done = pl.DataFrame(
        {
            "id": ["a", "c"],
            "status": ["failed", "judged"],
            "generation": [None, "x"],
            "generation_model": ["m", "m"],
            "generation_recipe": [None, "g"],
            "run_id": ["run-1", "run-0"],
        },
        schema_overrides={"generation": pl.String, "generation_recipe": pl.String},
    )
    journal = Journal(path, "g", "r", run_id="run-2")
    plan = plan_rows(kept(list("abcd")), done, journal, "g", "m")
    assert plan.todo["id"].to_list() == ["b", "a", "d"]  # b is paid for; a needs a new request
    assert set(journal.rows) == {"b"}
    assert set(Journal(path, "g", "r").rows) == {"b"}  # forgotten on disk too


def test_placeholder_rows_are_not_done_for_a_real_generator(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl", "g", "r")
    done = pl.DataFrame(
        {
            "id": ["a", "b"],
            "status": ["judged", "judged"],
            "generation": ["[offline placeholder: no LLM was called] vraag a", "antwoord"],
            "generation_model": [PLACEHOLDER_MODEL, "m"],
            "model_name": [PLACEHOLDER_MODEL, "j"],
            "generation_recipe": ["offline", "g"],
        }
    )
    plan = plan_rows(kept(["a", "b"]), done, journal, "g", "m")
    assert plan.todo["id"].to_list() == ["a"] and plan.already_published == 1
    assert journal.generations == {}  # the placeholder text is no answer to reuse
    offline = plan_rows(kept(["a", "b"]), done, journal, "offline", PLACEHOLDER_MODEL)
    assert offline.todo.height == 0  # for another offline run they are done


def test_a_model_joining_makes_rows_due_and_reuses_the_answers_of_the_others(tmp_path: Path) -> None:
    judged = pl.DataFrame(
        {
            "id": ["a", "b"],
            "status": ["judged", "judged"],
            "generation": ["a van m", "b van m"],
            "generation_model": ["m", "m"],
            "generation_recipe": ["g", "g"],
            "generations": [["mens a", "a van m", "a van n"], ["mens b", "b van m"]],
            "generation_models": [["human", "m", "n"], ["human", "m"]],
            "generation_recipes": [[None, "g", "h"], [None, "g"]],
        }
    )
    journal = Journal(tmp_path / "j.jsonl", ["g", "h"], "panel")
    plan = plan_rows(kept(["a", "b"]), judged, journal, ["g", "h"], ["m", "n"], required_models=["m", "n"])
    assert plan.todo["id"].to_list() == ["b"] and plan.already_published == 1  # a has both answers
    assert journal.generations == {"b": {"g": "b van m"}}  # only n's answer is bought for b
    fewer = plan_rows(
        kept(["a", "b"]), judged, Journal(tmp_path / "k.jsonl", "h", "r"), "h", "n", required_models=["n"]
    )
    assert fewer.todo["id"].to_list() == ["b"]  # with n alone: a has its answer, b lacks one


def test_a_one_model_override_fills_only_rows_not_judged_yet(tmp_path: Path) -> None:
    """`--llm-model X` (no required models) must not buy again rows the configured models answered."""
    judged = published([("a", "judged", "van m", "g"), ("b", "failed", None, None)])
    plan = plan_rows(kept(["a", "b"]), judged, Journal(tmp_path / "j.jsonl", "x", "r"), "x", "x")
    assert plan.todo["id"].to_list() == ["b"] and plan.already_published == 1


def test_a_judged_row_stops_waiting_for_a_model_after_max_attempts(tmp_path: Path) -> None:
    row = published([("a", "judged", "van m", "g")]).with_columns(
        failure_reason=pl.lit("generation_error"), attempts=pl.lit(3)
    )
    journal = Journal(tmp_path / "j.jsonl", ["g", "h"], "r")
    done = plan_rows(
        kept(["a"]), row, journal, ["g", "h"], ["m", "n"], required_models=["m", "n"], max_attempts=3
    )
    assert done.todo.height == 0
    again = plan_rows(
        kept(["a"]), row, journal, ["g", "h"], ["m", "n"], required_models=["m", "n"], max_attempts=4
    )
    assert again.todo["id"].to_list() == ["a"]
