"""`dpo-factory run`: the languages asked for, one after another, in one flow run on this machine.

Each language goes through `run_language`, the same stages and tasks as the deployed per-language
flow (`language_flow`), and its summary is printed as soon as it is done. One flow run for them all
instead of one per language spares Prefect's bookkeeping of a flow run (a few API calls, about
0.1 s) for every language of `run --all`. A language that fails is reported and the next one runs.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State

from flows.language_flow import USER_ERRORS, RunOptions, failure_message, run_language
from flows.summary import TRACEBACK_HINT, print_failure, print_summary
from tasks.incremental import DEFAULT_CHECKPOINT_ROWS


@flow(name="aya-dpo-local", log_prints=False)
def local_flow(
    languages: list[str],
    source: str = "hub",
    out: str = "out",
    push: bool = False,
    llm_base_url: str | None = None,
    llm_model: str | None = None,
    offline: bool = False,
    concurrency: int = 16,
    limit: int | None = None,
    namespace: str | None = None,
    languages_dir: str | None = None,
    public: bool = False,
    checkpoint_every: int = DEFAULT_CHECKPOINT_ROWS,
    retry_failed: bool = False,
    verbose: bool = False,
) -> State:
    """Run each language in turn; the state's data is `{"languages": [reports], "failed": [codes]}`."""
    options = RunOptions.of(locals() | {"progress": True})
    logger = get_run_logger()
    outcome: dict[str, Any] = {"languages": [], "failed": []}
    for language in languages:
        try:
            report = run_language(language, options)
        except USER_ERRORS as exc:
            message = failure_message(language, exc)
            logger.error("%s", message)
            print_failure(language, message)
        except Exception as exc:
            # Not bad input but a fault: the traceback goes to Prefect's log (the console with --verbose).
            logger.exception("%s", failure_message(language, exc))
            print_failure(language, f"{type(exc).__name__}: {exc}", "" if verbose else TRACEBACK_HINT)
        else:
            outcome["languages"].append(report)
            print_summary(report)
            continue
        outcome["failed"].append(language)
    if outcome["failed"]:
        return Failed(message=f"{len(outcome['failed'])} of {len(languages)} languages failed", data=outcome)
    return Completed(message=f"{len(languages)} languages", data=outcome)
