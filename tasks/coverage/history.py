"""Progress over time: config `history` of the coverage dataset, one snapshot row per language per report.

A report appends its snapshot to the published history (read from the same destination it publishes
to) and publishes the whole table again. Snapshots are keyed by the report that made them: a rerun of
the same report (a Prefect retry of the flow run) replaces its own rows instead of adding them twice.
A report whose numbers all equal the latest snapshot's adds nothing: the coverage report runs after
every language run and daily, mostly with nothing new, and a flat line between two snapshots says the
same as a row per idle report would, without growing the dataset by a snapshot of every language each
time. The dashboard draws each language's line up to the time of the current report.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from tasks.coverage.report import COLUMNS

HISTORY_DATA = "history"
KEY = ("report_id", "generated_at")
TRACKED = (
    "language",
    "language_code",
    "config",
    "status",
    "aya_rows",
    "raw_rows",
    "judged_rows",
    "curated_pairs",
    "kto_rows",
    "human_verified_pairs",
    "judge_human_agreement",
    "judge_human_kappa",
    "judge_alpha",
    "mean_margin",
    "wrong_language_rate",
    "judge_failure_rate",
    "judge_error_rate",
)
HISTORY_COLUMNS: dict[str, pl.DataType] = {
    "report_id": pl.String(),
    "generated_at": pl.String(),
    **{name: COLUMNS[name] for name in TRACKED},
}
# More points than a chart can show apart: the page keeps the last snapshot of each day, then week.
MAX_CHART_SNAPSHOTS = 200


def snapshot(coverage: pl.DataFrame, report_id: str, generated_at: str) -> pl.DataFrame:
    """This report's rows for the history: one per language, with the report's id and time."""
    return coverage.select(
        pl.lit(report_id, pl.String).alias("report_id"),
        pl.lit(generated_at, pl.String).alias("generated_at"),
        *TRACKED,
    ).cast(HISTORY_COLUMNS)


def _numbers(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(TRACKED).sort("language", "language_code", nulls_last=True)


def latest(history: pl.DataFrame) -> pl.DataFrame:
    """The rows of the most recent snapshot (empty for an empty history)."""
    if history.height == 0:
        return history
    last = history.sort("generated_at", "report_id").select(KEY).row(-1)
    return history.filter((pl.col("report_id") == last[0]) & (pl.col("generated_at") == last[1]))


def append_history(published: pl.DataFrame | None, new: pl.DataFrame) -> tuple[pl.DataFrame, bool]:
    """The published history with this report's snapshot, and whether the snapshot was added.

    Rows of an earlier attempt of the same report are replaced; a snapshot equal in every number to
    the latest one before it is not added.
    """
    history = pl.DataFrame(schema=HISTORY_COLUMNS)
    if published is not None and published.height:
        for name, kind in HISTORY_COLUMNS.items():  # a history written before a column existed
            if name not in published.columns:
                published = published.with_columns(pl.lit(None, kind).alias(name))
        history = published.select(list(HISTORY_COLUMNS)).cast(HISTORY_COLUMNS)
    report_id = new["report_id"][0] if new.height else None
    history = history.filter(pl.col("report_id").ne_missing(report_id))
    before = latest(history)
    if before.height and _numbers(before).equals(_numbers(new)):
        return history.sort("generated_at", "language", "language_code"), False
    both = pl.concat([history, new.select(list(HISTORY_COLUMNS))], how="vertical")
    return both.sort("generated_at", "language", "language_code", nulls_last=True), True


def _thin(times: list[str]) -> list[str]:
    """At most MAX_CHART_SNAPSHOTS report times: the last of each day, then of each week, month."""
    if len(times) <= MAX_CHART_SNAPSHOTS:
        return times
    frame = pl.DataFrame({"t": times}).with_columns(at=pl.col("t").str.to_datetime(time_zone="UTC"))
    for every in ("1d", "1w", "1mo"):
        kept = frame.group_by(pl.col("at").dt.truncate(every)).agg(pl.col("t").max())["t"].sort().to_list()
        if len(kept) <= MAX_CHART_SNAPSHOTS:
            return kept
    return kept[-MAX_CHART_SNAPSHOTS:]


def progress(history: pl.DataFrame) -> dict[str, Any]:
    """What the dashboard's history charts draw.

    `times`: the report times shown; `languages`: how many Aya languages had curated pairs at each;
    `curated_pairs`, `human_verified_pairs`: totals at each; `pairs`: per language that ever had
    pairs, `(label, [pairs at each time])`, most pairs now first.
    """
    times = _thin(sorted(set(history["generated_at"].drop_nulls())))
    shown = history.filter(pl.col("generated_at").is_in(times))
    totals = {
        row[0]: row[1:]
        for row in shown.group_by("generated_at")
        .agg(
            languages=(pl.col("curated_pairs").fill_null(0) > 0).filter(pl.col("aya_rows") > 0).sum(),
            pairs=pl.col("curated_pairs").fill_null(0).sum(),
            verified=pl.col("human_verified_pairs").fill_null(0).sum(),
        )
        .iter_rows()
    }
    wide = (
        shown.filter(pl.col("curated_pairs").fill_null(0).max().over("language", "language_code") > 0)
        .with_columns(label=pl.format("{} ({})", "language", "language_code"))
        .pivot(on="generated_at", index="label", values="curated_pairs", aggregate_function="first")
    )
    pairs = []
    for row in wide.iter_rows(named=True):
        pairs.append((row["label"], [int(row.get(t) or 0) for t in times]))
    pairs.sort(key=lambda item: (-item[1][-1], item[0]))
    return {
        "times": times,
        "languages": [int(totals[t][0]) for t in times],
        "curated_pairs": [int(totals[t][1]) for t in times],
        "human_verified_pairs": [int(totals[t][2]) for t in times],
        "pairs": pairs,
    }
