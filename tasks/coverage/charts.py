"""The coverage report's charts: curated pairs per language as a PNG (for the card and the Space), and
progress over time as inline SVG for the dashboard page (no script, no network)."""

from __future__ import annotations

import html
import io
from datetime import datetime

import polars as pl

from tasks.coverage.text import HAS_PAIRS, STATUS_COLOURS, count, minute, summary_line

# Okabe-Ito colours with a dash pattern each: lines tell apart without colour too.
LINE_STYLES = [
    ("#0072b2", ""),
    ("#d55e00", "6 3"),
    ("#009e73", "2 2"),
    ("#cc79a7", "8 3 2 3"),
    ("#e69f00", "4 4"),
    ("#56b4e9", "1 3"),
    ("#000000", "10 4"),
    ("#7f7f7f", "3 2 1 2"),
]
WIDTH, HEIGHT = 480, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 30


def without_pairs(coverage: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Configured languages with no curated pairs yet, and Aya languages with no config."""
    rest = coverage.filter(~HAS_PAIRS).sort("language", "language_code")
    return rest.filter(pl.col("configured")), rest.filter(~pl.col("configured"))


def zero_groups(coverage: pl.DataFrame) -> list[tuple[str, pl.DataFrame]]:
    """`65 configured languages have no pairs yet` (and the like for languages with no config), each
    with its languages: what the chart and the page summarise instead of drawing bars of zero."""
    waiting, unconfigured = without_pairs(coverage)
    groups = []
    for frame, kind, what in (
        (waiting, "configured language", "no pairs yet"),
        (unconfigured, "Aya language", "no config"),
    ):
        if frame.height:
            many = frame.height != 1
            groups.append((f"{frame.height:,} {kind}{'s' * many} {'have' if many else 'has'} {what}", frame))
    return groups


def zero_summary(coverage: pl.DataFrame) -> list[str]:
    return [line for line, _ in zero_groups(coverage)]


def render_png(coverage: pl.DataFrame) -> bytes:
    """Curated pairs per language that has any; the languages without are one line under the chart."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    shown = coverage.filter(HAS_PAIRS).sort("curated_pairs")
    height = max(2.5, 0.32 * shown.height + 1.6)
    figure, axes = plt.subplots(figsize=(8, height), dpi=110)
    if shown.height:
        labels = [f"{r['language']} ({r['language_code']})" for r in shown.iter_rows(named=True)]
        values = shown["curated_pairs"].to_list()
        bars = axes.barh(labels, values, color=STATUS_COLOURS["curated"])
        axes.bar_label(bars, labels=[count(v) for v in values], padding=3, fontsize=8)
        axes.set_xlabel("curated preference pairs")
        axes.spines[["top", "right"]].set_visible(False)
    else:
        axes.text(0.5, 0.5, "No curated pairs yet", ha="center", va="center", fontsize=12)
        axes.set_axis_off()
    axes.set_title(summary_line(coverage))
    if notes := zero_summary(coverage):
        figure.text(0.01, 0.01, "; ".join(notes) + ".", fontsize=8, color="#555555")
    figure.tight_layout(rect=(0, 0.04 if notes else 0, 1, 1))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _nice_ceiling(value: float) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _time_label(value: str, short: bool) -> str:
    at = _when(value)
    return at.strftime("%d %b %H:%M") if short else at.strftime("%d %b %Y")


def history_svg(
    element_id: str, label: str, times: list[str], series: list[tuple[str, list[int]]], until: str
) -> str:
    """A step line per series over report times, drawn to `until` (the current report's time).

    Every snapshot is a marker (`circle.snapshot`) with its time and value as a tooltip.
    """
    start, end = _when(times[0]), max(_when(times[-1]), _when(until))
    span = (end - start).total_seconds()
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_ceiling(max((max(values) for _, values in series), default=1))

    def x(at: str) -> float:
        seconds = (_when(at) - start).total_seconds()
        return LEFT + (plot_w * seconds / span if span else plot_w / 2)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    short = span < 2 * 86400
    parts = []
    for tick in (0, top // 2, top) if top % 2 == 0 else (0, top):  # whole numbers only
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
        )
        parts.append(f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{count(tick)}</text>')  # fmt: skip
    parts.append(f'<text x="{LEFT}" y="{HEIGHT - 8}">{_time_label(times[0], short)}</text>')
    if span:
        parts.append(
            f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" text-anchor="end">{_time_label(until, short)}</text>'
        )
    last_x = LEFT + plot_w if span else x(times[0])
    for index, (name, values) in enumerate(series):
        colour, dash = LINE_STYLES[index % len(LINE_STYLES)]
        points = []
        for i, (at, value) in enumerate(zip(times, values, strict=True)):
            if i:
                points.append(f"{x(at):.1f},{y(values[i - 1]):.1f}")  # hold the value until the next report
            points.append(f"{x(at):.1f},{y(value):.1f}")
        points.append(f"{last_x:.1f},{y(values[-1]):.1f}")
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline class="series" data-series="{html.escape(name)}" points="{" ".join(points)}" '
            f'stroke="{colour}"{dash_attr}/>'
        )
        for at, value in zip(times, values, strict=True):
            parts.append(
                f'<circle class="snapshot" cx="{x(at):.1f}" cy="{y(value):.1f}" r="3" fill="{colour}">'
                f"<title>{html.escape(name)}, {minute(at)} UTC: {count(value)}</title>"
                "</circle>"
            )
    return (
        f'<svg id="{element_id}" class="history" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{html.escape(label)}" data-snapshots="{len(times)}">{"".join(parts)}</svg>'
    )


def legend(series: list[tuple[str, list[int]]]) -> str:
    """The lines' key: each line's colour and dash, its name and latest value."""
    items = []
    for index, (name, values) in enumerate(series):
        colour, dash = LINE_STYLES[index % len(LINE_STYLES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        items.append(
            f'<li><svg width="28" height="10" aria-hidden="true"><line x1="0" y1="5" x2="28" y2="5" '
            f'stroke="{colour}" stroke-width="2.5"{dash_attr}/></svg>{html.escape(name)}: '
            f"{count(values[-1])}</li>"
        )
    return f'<ul class="key">{"".join(items)}</ul>'
