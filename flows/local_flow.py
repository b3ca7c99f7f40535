"""`dpo-factory run` on Prefect's temporary server: the languages, one after another, in one flow run.

Each language goes through `run_language`, the same stages and tasks as the deployed per-language
flow (`language_flow`), with the same 12-hour limit, and its summary is printed as soon as it is
done. One flow run for them all instead of one per language spares Prefect's bookkeeping of a flow
run (a few API calls, about 0.1 s) for every language of `run --all`. A language that fails or runs
out of time is reported and the next one runs. Against a lasting server (PREFECT_API_URL) the CLI
runs `language_flow` per language instead, so each language's completed run is an event there (the
coverage deployment's trigger listens for them).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State
from prefect.utilities.timeout import timeout

from flows.language_flow import FLOW_TIMEOUT_SECONDS, USER_ERRORS, RunOptions, run_language
from flows.summary import TRACEBACK_HINT, failure_message, print_failure, print_summary
from tasks.state.incremental import DEFAULT_CHECKPOINT_ROWS


class LanguageTimeoutError(TimeoutError):
    """A language took longer than a deployed flow run may (FLOW_TIMEOUT_SECONDS)."""


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
    language_seconds: float = FLOW_TIMEOUT_SECONDS,
) -> State:
    """Run each language in turn; the state's data is `{"languages": [reports], "failed": [codes]}`."""
    options = RunOptions.of(locals() | {"progress": True})
    logger = get_run_logger()
    outcome: dict[str, Any] = {"languages": [], "failed": []}
    for language in languages:
        try:
            with timeout(language_seconds, timeout_exc_type=LanguageTimeoutError):
                report = run_language(language, options)
        except LanguageTimeoutError:
            message = (
                f"{language}: stopped after {language_seconds / 3600:g} h (stuck?); rows done are journaled"
            )
            logger.error("%s", message)
            print_failure(message)
        except USER_ERRORS as exc:
            message = failure_message(language, exc)
            logger.error("%s", message)
            print_failure(message)
        except Exception as exc:
            # Not bad input but a fault: the traceback goes to Prefect's log (the console with --verbose).
            message = failure_message(language, f"{type(exc).__name__}: {exc}")
            logger.exception("%s", message)
            print_failure(message, "" if verbose else TRACEBACK_HINT)
        else:
            outcome["languages"].append(report)
            print_summary(report)
            continue
        outcome["failed"].append(language)
    if outcome["failed"]:
        return Failed(message=f"{len(outcome['failed'])} of {len(languages)} languages failed", data=outcome)
    return Completed(message=f"{len(languages)} languages", data=outcome)
