"""The run summary on the console: one table per language as it finishes, and one line per failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)
TRACEBACK_HINT = " (--verbose shows the traceback)"


def failure_message(language: str, error: Exception | str) -> str:
    """Every error line names the language first: with several languages, the reader knows which."""
    return str(error) if str(error).startswith(f"{language}:") else f"{language}: {error}"


def print_failure(message: str, hint: str = "") -> None:
    """`error: <message>`; a language's message names the language first (`failure_message`)."""
    errors.print(f"error: {message}{hint}", markup=False, highlight=False)


def print_summary(report: dict[str, Any]) -> None:
    table = Table(title=f"{report['language']} ({report['name']})", show_header=False, title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    flt, data, llm = report["filter"], report["datasets"], report["llm_stage"]
    table.add_row("LLM", report["llm"])
    table.add_row("rows in", f"{flt['rows_in']:,}")
    dropped = ", ".join(f"{k} {v:,}" for k, v in flt["dropped"].items()) or "none"
    table.add_row("dropped", dropped)
    examples = _drop_examples(flt.get("examples", {}))
    if examples:
        table.add_row("drop examples", examples)
    gave_up = f", {report['gave_up']:,} given up (--retry-failed)" if report.get("gave_up") else ""
    table.add_row("kept", f"{flt['kept']:,} ({report['already_published']:,} already published{gave_up})")
    calls = llm["calls"]
    table.add_row(
        "generated / judged",
        f"{calls.get('generate', 0):,} / {report['this_run']['judged']:,}"
        f" ({report['this_run']['failed']:,} failed: "
        f"{', '.join(f'{k} {v}' for k, v in llm['failures'].items()) or 'none'})",
    )
    tokens_in, tokens_out = sum(llm["input_tokens"].values()), sum(llm["output_tokens"].values())
    table.add_row(
        "LLM calls",
        f"{sum(calls.values()):,} calls, {sum(llm['retries'].values()):,} retries, "
        f"{tokens_in:,} prompt + {tokens_out:,} completion tokens, {llm['seconds']:.1f} s",
    )
    if llm["resumed_rows"] or llm["resumed_generations"]:
        table.add_row(
            "resumed",
            f"{llm['resumed_rows']:,} rows and {llm['resumed_generations']:,} answers from the journal",
        )
    table.add_row("curated pairs / KTO rows", f"{data['curated_pairs']:,} / {data['kto_rows']:,}")
    quality = report["quality"]

    def percent(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0%}"

    wrong = (
        "not checked"
        if quality.get("language_checked_rows") == 0 and quality["judged_rows"]
        else percent(quality["wrong_language_rate"])
    )
    table.add_row(
        "quality",
        f"wrong language {wrong}, judge failures {percent(quality['judge_failure_rate'])}, "
        f"judge errors {percent(quality.get('judge_error_rate'))}, "
        f"human won {percent(quality['human_won_share'])}, "
        f"position consistency {percent(quality['position_consistency'])}",
    )
    if report.get("models"):
        table.add_row("models", _models_line(report["models"], report.get("judge_agreement")))
    if report["left_for_next_run"]:
        table.add_row("left for next run", f"{report['left_for_next_run']:,} (--limit)")
    if data.get("excluded_rows"):
        table.add_row("excluded", f"{data['excluded_rows']:,} published rows the current filter drops")
    if report["this_run"].get("checkpoints"):
        table.add_row("checkpoints", f"{report['this_run']['checkpoints']:,} published during the LLM stage")
    review = report.get("review")
    if review:
        table.add_row("community review", _review_line(review))
    written = [relative(path) for path in report["published"]]
    table.add_row("written", "\n".join(written) or "nothing changed: the published datasets are up to date")
    console.print(table)


def _models_line(models: list[dict[str, Any]], agreement: dict[str, Any] | None) -> str:
    """A line per answer source: mean rating, pairs won, wrong language; then the judges' agreement."""
    lines = []
    for entry in models:
        rating = "n/a" if entry["mean_rating"] is None else f"{entry['mean_rating']:.2f}"
        pairs = entry["chosen"] + entry["rejected"]
        line = f"{entry['source']}: rating {rating} over {entry['answers']:,}, chosen {entry['chosen']:,} of {pairs:,}"
        if entry["wrong_language_rate"] is not None:
            line += f", wrong language {entry['wrong_language_rate']:.0%}"
        lines.append(line)
    alpha = (agreement or {}).get("krippendorff_alpha")
    if alpha is not None:
        lines.append(f"judges' agreement (Krippendorff's α): {alpha:.2f} ({agreement['judges']} judges)")
    return "\n".join(lines)


def _review_line(review: dict[str, Any]) -> str:
    """The sync after the run: what people decided so far, and what was sent."""
    if "error" in review:
        return f"sync skipped: {review['error']} (the next sync retries)"
    agreement = review["judge_human"]
    share = "n/a" if agreement["share"] is None else f"{agreement['share']:.0%}"
    return (
        f"{review['human_verified_pairs']:,} human-verified pairs from {review['votes']:,} votes "
        f"(judge agreed on {share} of {agreement['pairs']:,}); sent {review['sent_now']:,}, "
        f"{review['open_pairs']:,} open"
    )


def _drop_examples(examples: dict[str, list[dict[str, Any]]]) -> str:
    """A line per example dropped row: reason, id, prompt excerpt, and what language ID read."""
    lines = []
    for reason, rows in examples.items():
        for row in rows:
            line = f"{reason}: {row['id']} {json.dumps(row['prompt'], ensure_ascii=False)}"
            if "read_as" in row:
                side = "answer " if reason.startswith("answer") else ""
                score, accepted = row.get("score"), row.get("accepted_score")
                line += (
                    f" ({side}read as {row['read_as']} {score:.2f}" if score is not None else " (not checked"
                )
                line += f", accepted labels {accepted:.2f})" if accepted is not None else ")"
            if row.get("duplicate_of"):
                line += f" (repeats {row['duplicate_of']})"
            lines.append(line)
    return "\n".join(lines)


def relative(path: str) -> str:
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:  # a Hub URL, or a folder outside the working directory
        return path
