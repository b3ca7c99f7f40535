"""`dpo-factory review`: sync languages with their annotation projects (votes in, new pairs out)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.options import (
    AllLanguages,
    Languages,
    LanguagesDir,
    Namespace,
    Verbose,
    check_namespace,
    chosen_languages,
    report_failure,
)
from flows.cli.prefect_server import configure_prefect, flow_runs, load_flow
from flows.summary import console, print_failure, relative
from languages.schema import LANGUAGES_DIR, load_language


def review(
    languages: Languages = None,
    all_languages: AllLanguages = False,
    out: Annotated[
        Path, typer.Option(help="The dataset repos live under OUT/<namespace>/<name>/ (as `run` wrote them).")
    ] = Path("out"),
    push: Annotated[
        bool, typer.Option("--push", help="Read from and publish to the Hugging Face Hub.")
    ] = False,
    namespace: Namespace = None,
    languages_dir: LanguagesDir = LANGUAGES_DIR,
    verbose: Verbose = False,
) -> None:
    """Pull people's votes, publish what they decided, and send the next pairs; no LLM is called."""
    configure_prefect(verbose)
    check_namespace(namespace)
    chosen = chosen_languages(languages, all_languages, languages_dir, "review")
    if all_languages:  # every language that has a review project; the others have nothing to sync
        chosen = [code for code in chosen if load_language(code, languages_dir).review is not None]
    review_flow = load_flow("flows.review_flow", "review_flow")
    with flow_runs():
        state = review_flow(
            languages=chosen,
            out=str(out),
            push=push,
            namespace=namespace,
            languages_dir=str(languages_dir),
            return_state=True,
        )
    outcome = state.result(raise_on_failure=False)
    if not isinstance(outcome, dict):
        report_failure(state, verbose)
        raise typer.Exit(1)
    for report in outcome["languages"]:
        agreement = report["judge_human"]
        kappa = agreement["cohen_kappa"]
        console.print(
            f"{report['language']}: {report['votes']} votes, {report['human_verified_pairs']} human-verified "
            f"pairs (judge agreed on {agreement['share'] if agreement['share'] is not None else '-'} of "
            f"{agreement['pairs']}, kappa {kappa if kappa is not None else '-'}); sent {report['sent_now']}, "
            f"{report['open_pairs']} open, {report['waiting_to_send']} waiting",
            markup=False,
            highlight=False,
        )
        for path in report["published"]:
            console.print(f"written: {relative(path)}", markup=False, highlight=False)
    for failure in outcome["failed"]:
        print_failure(failure["message"])
    if outcome["failed"]:
        raise typer.Exit(1)
