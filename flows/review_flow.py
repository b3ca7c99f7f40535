"""Community review as a flow: sync each language with its annotation project, no LLM call.

`dpo-factory review` and the daily review deployment run it; `run` does the same for a language with
`review:` after it has published its LLM results (a failed sync never undoes those: it is retried by
the next one). One writer per language and destination, as for `run`: both take the same lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State

from flows.language_flow import USER_ERRORS, journal_path, publish_stage, published_raw
from flows.summary import failure_message
from languages.schema import LANGUAGES_DIR, load_language
from tasks.publish.destination import Destination, run_lock
from tasks.review.errors import ReviewError
from tasks.review.sync import sync_language


def review_language(
    language: str, out: str, push: bool, namespace: str | None, languages_dir: str | None
) -> dict[str, Any]:
    """Sync one language under the run lock; the report says what was pulled, published and sent."""
    folder = Path(languages_dir or LANGUAGES_DIR)
    config = load_language(language, folder).published_as(namespace)
    destination = Destination(Path(out), push, config.publish.private)
    recipe_file = (folder / f"{language}.yaml").read_bytes()
    with run_lock(journal_path(out, config).with_suffix(".lock"), destination.describe(config.raw_repo)):
        raw = published_raw(destination, config.raw_repo, config.curated_repo)
        report = sync_language(config, destination, recipe_file, raw, publish_stage)
    return {"language": language, "name": config.name, **report}


@flow(name="aya-dpo-review", log_prints=False)
def review_flow(
    languages: list[str],
    out: str = "out",
    push: bool = False,
    namespace: str | None = None,
    languages_dir: str | None = None,
) -> State:
    """Sync each language with its annotation project; data: `{"languages": [reports], "failed": [codes]}`."""
    logger = get_run_logger()
    outcome: dict[str, Any] = {"languages": [], "failed": []}
    for language in languages:
        try:
            report = review_language(language, out, push, namespace, languages_dir)
        except (*USER_ERRORS, ReviewError) as exc:
            message = failure_message(language, exc)
            logger.error("%s", message)
            outcome["failed"].append({"language": language, "message": message})
            continue
        logger.info(
            "%s: %d votes pulled into %d human-verified pairs, %d pairs sent",
            language,
            report["votes"],
            report["human_verified_pairs"],
            report["sent_now"],
        )
        outcome["languages"].append(report)
    if outcome["failed"]:
        return Failed(message=f"{len(outcome['failed'])} of {len(languages)} languages failed", data=outcome)
    return Completed(message=f"{len(languages)} languages synced", data=outcome)
