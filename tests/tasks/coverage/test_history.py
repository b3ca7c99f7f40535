"""Config `history` of the coverage report: snapshots keyed by report, nothing added twice or idle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from tasks.coverage.history import MAX_CHART_SNAPSHOTS, append_history, progress, snapshot
from tasks.coverage.report import COLUMNS


def coverage(pairs: dict[str, int], verified: int = 0) -> pl.DataFrame:
    """A coverage table with one row per code; `pairs` curated pairs each, every code in Aya."""
    rows = [
        {"language": f"Language {code}", "language_code": code, "aya_rows": 10, "configured": True,
         "config": code, "status": "curated" if n else "configured", "raw_rows": n + 1, "judged_rows": n,
         "curated_pairs": n, "kto_rows": 2 * n, "human_verified_pairs": verified}
        for code, n in pairs.items()
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=COLUMNS, strict=False)


def test_every_report_with_new_numbers_adds_one_row_per_language() -> None:
    history, added = append_history(
        None, snapshot(coverage({"nld": 0, "swh": 0}), "a", "2026-08-01T10:00:00+00:00")
    )
    assert added and history.height == 2
    history, added = append_history(
        history, snapshot(coverage({"nld": 5, "swh": 800}), "b", "2026-08-20T10:00:00+00:00")
    )
    assert added and history.height == 4
    assert history.filter(pl.col("language_code") == "swh")["curated_pairs"].to_list() == [0, 800]
    drawn = progress(history)
    assert drawn["times"] == ["2026-08-01T10:00:00+00:00", "2026-08-20T10:00:00+00:00"]
    assert drawn["languages"] == [0, 2] and drawn["curated_pairs"] == [0, 805]
    assert drawn["pairs"] == [
        ("Language swh (swh)", [0, 800]),
        ("Language nld (nld)", [0, 5]),
    ]  # most now first


def test_a_rerun_of_the_same_report_replaces_its_snapshot() -> None:
    first, _ = append_history(None, snapshot(coverage({"nld": 1}), "a", "2026-08-01T10:00:00+00:00"))
    history, _ = append_history(first, snapshot(coverage({"nld": 2}), "b", "2026-08-02T10:00:00+00:00"))
    again, added = append_history(history, snapshot(coverage({"nld": 2}), "b", "2026-08-02T10:05:00+00:00"))
    assert added and again.height == 2 and again["report_id"].to_list() == ["a", "b"]
    assert again["generated_at"].to_list()[-1] == "2026-08-02T10:05:00+00:00"  # the retry's, once
    # The retry finds the numbers back where the previous report had them: its snapshot goes.
    undone, added = append_history(history, snapshot(coverage({"nld": 1}), "b", "2026-08-02T10:09:00+00:00"))
    assert not added and undone.equals(first)


def test_a_report_that_changes_nothing_adds_nothing() -> None:
    history, _ = append_history(None, snapshot(coverage({"nld": 3}), "a", "2026-08-01T10:00:00+00:00"))
    same, added = append_history(history, snapshot(coverage({"nld": 3}), "b", "2026-08-02T10:00:00+00:00"))
    assert not added and same.equals(history)
    reviewed, added = append_history(
        history, snapshot(coverage({"nld": 3}, verified=4), "c", "2026-08-03T10:00:00+00:00")
    )
    assert added and reviewed.height == 2  # people's votes are progress too


def test_a_history_published_before_a_column_existed_is_extended() -> None:
    history, _ = append_history(None, snapshot(coverage({"nld": 3}), "a", "2026-08-01T10:00:00+00:00"))
    older = history.drop("human_verified_pairs", "judge_human_kappa")
    extended, added = append_history(older, snapshot(coverage({"nld": 4}), "b", "2026-08-02T10:00:00+00:00"))
    assert added and extended.columns == history.columns
    assert extended["human_verified_pairs"].to_list() == [None, 0]


def test_a_long_history_is_thinned_for_the_chart_to_the_last_snapshot_of_each_day() -> None:
    history = None
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for day in range(1, 121):
        for hour in (6, 18):
            at = (start + timedelta(days=day, hours=hour)).isoformat()
            history, _ = append_history(history, snapshot(coverage({"nld": 2 * day + hour}), at, at))
    drawn = progress(history)
    assert len(set(history["generated_at"])) == 240 > MAX_CHART_SNAPSHOTS
    assert len(drawn["times"]) == 120 and all(t.endswith("T18:00:00+00:00") for t in drawn["times"])
    assert drawn["pairs"][0][1][-1] == 2 * 120 + 18
