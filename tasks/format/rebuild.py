"""Stage 7, rebuild: raw, curated DPO and KTO from what is published, a run's rows and the current config.

Every run (and every checkpoint) rebuilds the datasets from state rather than appending to them, so a
lost or stale curated repo is repaired, a changed curation rule applies to published pairs, and a
row the current filter drops leaves the curated data while raw keeps it, marked with the reason.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from languages.schema import LanguageConfig
from tasks.filter.rules import FilterResult
from tasks.format.human import build_human
from tasks.format.kto import build_kto
from tasks.format.models import model_table, panel_agreement
from tasks.format.views import build_dpo, build_raw, mark_excluded, merge_raw, quality_stats
from tasks.publish.cards import build_curated_repo, build_raw_repo, raw_models
from tasks.publish.repos import DatasetRepo
from tasks.review.agreement import review_stats
from tasks.state.status import STATUS_GAVE_UP, STATUS_JUDGED


class LanguageState:
    """One language's published raw rows, the current filter result and config, ready to rebuild from."""

    def __init__(
        self,
        config: LanguageConfig,
        published: pl.DataFrame | None,
        filtered: FilterResult,
        run_id: str,
        run_at: str,
        generation_recipe: str,
        recipe_file: bytes,
        generator_models: list[str] | None = None,
    ) -> None:
        """`generator_models`: the models whose answers curation may use (see `views`)."""
        self.config, self.published, self.filtered = config, published, filtered
        self.generator_models = generator_models
        self.run_id, self.run_at, self.generation_recipe = run_id, run_at, generation_recipe
        self.recipe_file = recipe_file
        self.kept_ids = set(filtered.kept["id"].to_list())

    def repos(self, results: list[dict[str, Any]], report: dict[str, Any]) -> list[DatasetRepo]:
        """The raw and curated repos for the published rows plus `results`; `report` gains the counts."""
        for result in results:
            if result.get("generation") is not None:
                result.setdefault("generation_recipe", self.generation_recipe)
        new = build_raw(results, self.run_id, self.run_at)
        raw = merge_raw(self.published, new, self.config.max_attempts)
        raw = mark_excluded(raw, self.kept_ids, self.filtered.dropped_ids)
        return views(self.config, raw, report, self.recipe_file, self.generator_models)


# The facts of the last run that the cards show; a review sync, which runs no filter, reads them back.
LAST_RUN_FILE = "recipe/last_run.json"
LAST_RUN_KEYS = ("source", "generation_model", "judge_model", "filter", "generator_models")


def views(
    config: LanguageConfig,
    raw: pl.DataFrame,
    report: dict[str, Any],
    recipe_file: bytes,
    generator_models: list[str] | None = None,
) -> list[DatasetRepo]:
    """The raw and curated repos for `raw` as it stands; `report` gains the counts, the quality figures,
    the per-source table and the judges' agreement.

    `generator_models` are the models whose answers curation and review may use: the human answer
    and theirs (the config's models, or what the run used instead: the offline placeholder, an
    `--llm-model` override). An answer of any other model stays in raw and leaves the curated data.
    None keeps every answer. The list is kept in the last run's facts, so a review sync uses the same.
    """
    if generator_models is not None:
        report["generator_models"] = list(generator_models)
    dpo, curation_drops = build_dpo(raw, config.curation, generator_models)
    kto = build_kto(dpo)
    statuses = raw["status"].value_counts() if raw.height else None
    report["datasets"] = {
        "raw_rows": raw.height,
        "judged_rows": int((raw["status"] == STATUS_JUDGED).sum()) if raw.height else 0,
        "gave_up_rows": int((raw["status"] == STATUS_GAVE_UP).sum()) if raw.height else 0,
        "excluded_rows": int(raw["excluded_reason"].is_not_null().sum()) if raw.height else 0,
        "statuses": dict(statuses.iter_rows()) if statuses is not None else {},
        "curated_pairs": dpo.height,
        "kto_rows": kto.height,
        "curation_dropped": curation_drops,
    }
    report["quality"] = quality_stats(raw, dpo)
    report["models"] = model_table(raw, dpo)
    report["judge_agreement"] = panel_agreement(raw)
    reviewed = "review_pair" in raw.columns
    if reviewed:
        report["human_review"] = review_stats(raw)
    # The judges whose ratings chose the pairs, read from the data like the generators.
    judges = raw_models(raw.filter(pl.col("id").is_in(dpo["id"].implode())), report)[1]
    human = build_human(raw) if reviewed or config.review else None
    repos = [
        build_raw_repo(config, raw, report),
        build_curated_repo(config, dpo, kto, curation_drops, report, judges, human),
    ]
    for repo in repos:  # each dataset carries the exact config it was made with
        repo.files[f"recipe/{config.code}.yaml"] = recipe_file
    last_run = {key: report[key] for key in LAST_RUN_KEYS if key in report}
    repos[0].files[LAST_RUN_FILE] = (
        json.dumps(last_run, ensure_ascii=False, sort_keys=True, indent=1) + "\n"
    ).encode()
    return repos
