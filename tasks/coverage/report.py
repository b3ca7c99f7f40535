"""The coverage report: one row per Aya language, configured or not, with what has been published.

Counts for configured languages are read from their published datasets (a local `--out` folder or the
Hub), never from memory, and split by Aya `language_code`, so a config covering several codes shows
each code's share. `tasks/coverage/dashboard.py` renders it as a dataset repo, an HTML dashboard and a Space.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from languages.schema import LanguageConfig
from tasks.format.models import model_table, panel_agreement
from tasks.format.views import quality_stats
from tasks.publish.cards import hub_language, language_checked
from tasks.publish.repos import DPO_DATA, KTO_DATA, RAW_DATA
from tasks.review.agreement import review_stats

Reader = Callable[[str, str], pl.DataFrame | None]  # (repo id, path in repo) -> table or None

# One answer source of a language: the human Aya answer or a generator model.
SOURCE_FIELDS: dict[str, pl.DataType] = {
    "source": pl.String(),
    "answers": pl.Int64(),
    "mean_rating": pl.Float64(),
    "chosen": pl.Int64(),
    "rejected": pl.Int64(),
    "chosen_share": pl.Float64(),
    "wrong_language_rate": pl.Float64(),
    "judge_mean_ratings": pl.List(pl.Struct({"judge": pl.String(), "mean_rating": pl.Float64()})),
}

COLUMNS: dict[str, pl.DataType] = {
    "language": pl.String(),
    "language_code": pl.String(),
    "iso_639_1": pl.String(),
    "aya_rows": pl.Int64(),
    "configured": pl.Boolean(),
    "config": pl.String(),
    "status": pl.String(),
    "raw_rows": pl.Int64(),
    "judged_rows": pl.Int64(),
    "curated_pairs": pl.Int64(),
    "kto_rows": pl.Int64(),
    "mean_chosen_rating": pl.Float64(),
    "mean_rejected_rating": pl.Float64(),
    "mean_margin": pl.Float64(),
    "human_won_share": pl.Float64(),
    "language_checked": pl.Boolean(),
    "wrong_language_rate": pl.Float64(),
    "judge_failure_rate": pl.Float64(),
    "judge_error_rate": pl.Float64(),
    "position_consistency": pl.Float64(),
    "review_sent_pairs": pl.Int64(),
    "human_verified_pairs": pl.Int64(),
    "review_votes": pl.Int64(),
    "judge_human_agreement": pl.Float64(),
    "judge_human_kappa": pl.Float64(),
    "judge_human_pairs": pl.Int64(),
    "annotator_alpha": pl.Float64(),
    # Krippendorff's alpha (ordinal) between the judges of a panel; null with one judge.
    "judge_alpha": pl.Float64(),
    "system_prompt_reviewed": pl.Boolean(),
    "generator_models": pl.List(pl.String()),
    "judge_models": pl.List(pl.String()),
    "last_run": pl.String(),
    "raw_repo": pl.String(),
    "curated_repo": pl.String(),
    "other_hub_datasets": pl.Int64(),
    "note": pl.String(),
    # The per-source figures (tasks/format/models.py): published as config `models`, not in `default`.
    "models": pl.List(pl.Struct(SOURCE_FIELDS)),
}
# Config `models`: one row per (language, code, answer source).
MODEL_COLUMNS: dict[str, pl.DataType] = {
    "language": pl.String(),
    "language_code": pl.String(),
    "config": pl.String(),
    **SOURCE_FIELDS,
}


def iso_639_1(code: str) -> str | None:
    """The ISO 639-1 code the Hub filters by (`arb` -> `ar`), or None when the language has none."""
    tag = hub_language(code)
    return tag if len(tag) == 2 else None


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def _models(raw: pl.DataFrame, *columns: str) -> list[str] | None:
    """The distinct model names in a language's raw rows (lists or strings), people's answers left out."""
    names: set[str] = set()
    for column in columns:
        if column in raw.columns:
            values = raw[column].explode() if isinstance(raw.schema[column], pl.List) else raw[column]
            names |= set(values.drop_nulls())
    return sorted(names - {"human"}) or None


def _published_stats(raw: pl.DataFrame | None, dpo: pl.DataFrame | None, kto: pl.DataFrame | None) -> dict:
    """Counts and quality figures of one Aya code's share of a language's published datasets."""
    if raw is None or raw.height == 0:
        return {"raw_rows": 0, "judged_rows": 0, "curated_pairs": 0, "kto_rows": 0}
    ids = raw["id"].implode()
    pairs = dpo.filter(pl.col("id").is_in(ids)) if dpo is not None else pl.DataFrame()
    unpaired = kto.filter(pl.col("id").is_in(ids)) if kto is not None else pl.DataFrame()
    quality = quality_stats(raw, pairs)
    stats: dict[str, Any] = {
        "raw_rows": raw.height,
        "curated_pairs": pairs.height,
        "kto_rows": unpaired.height,
        "last_run": raw["run_at"].max() if "run_at" in raw.columns else None,
        "generator_models": _models(raw, "generation_models", "generation_model"),
        "judge_models": _models(raw, "judge_models", "model_name"),
        **{key: value for key, value in quality.items() if key != "rating_histogram"},
        "judge_alpha": panel_agreement(raw)["krippendorff_alpha"],
        "models": [
            {
                **entry,
                "judge_mean_ratings": [
                    {"judge": judge, "mean_rating": mean}
                    for judge, mean in entry.get("judge_mean_ratings", {}).items()
                ]
                or None,
            }
            for entry in model_table(raw, pairs)
        ],
    }
    if "review_pair" in raw.columns:
        review = review_stats(raw)
        stats |= {
            "review_sent_pairs": review["sent_pairs"],
            "human_verified_pairs": review["human_verified_pairs"],
            "review_votes": review["votes"],
            "judge_human_agreement": review["judge_human"]["share"],
            "judge_human_kappa": review["judge_human"]["cohen_kappa"],
            "judge_human_pairs": review["judge_human"]["pairs"],
            "annotator_alpha": review["annotators"]["krippendorff_alpha"],
        }
    if pairs.height:
        stats |= {
            "mean_chosen_rating": _round(pairs["chosen_rating"].mean()),
            "mean_rejected_rating": _round(pairs["rejected_rating"].mean()),
        }
    return stats


def _claims(config: LanguageConfig, language: str | None, code: str) -> bool:
    """Whether an Aya (language name, code) belongs to a config: its code, and its name when the config
    lists names (two configs may share a code with disjoint names)."""
    names = config.aya_language_names
    return code in config.aya_language_codes and (names is None or language in names)


def build_coverage(
    aya: pl.DataFrame,
    configs: list[LanguageConfig],
    read: Reader,
    hub_counts: dict[str, int] | None = None,
) -> pl.DataFrame:
    """One row per Aya language (name and code), plus every configured code Aya lacks."""
    languages = aya.group_by("language", "language_code").agg(aya_rows=pl.len()).drop_nulls("language_code")
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in languages.iter_rows(named=True):
        owner = next((c for c in configs if _claims(c, r["language"], r["language_code"])), None)
        rows[(r["language"] or "", r["language_code"])] = {**r, "_config": owner, "_in_aya": True}
    for config in configs:
        for code in config.aya_language_codes:
            if not any(row["_config"] is config and key[1] == code for key, row in rows.items()):
                rows[(config.name, code)] = {
                    "language": config.name,
                    "language_code": code,
                    "aya_rows": 0,
                    "_config": config,
                    "_in_aya": False,
                }

    published: dict[str, tuple[pl.DataFrame | None, ...]] = {}
    for config in configs:
        published[config.code] = (
            read(config.raw_repo, RAW_DATA),
            read(config.curated_repo, DPO_DATA),
            read(config.curated_repo, KTO_DATA),
        )

    records = []
    for (_, code), row in sorted(rows.items()):
        config, in_aya = row.pop("_config"), row.pop("_in_aya")
        record: dict[str, Any] = {**row, "iso_639_1": iso_639_1(code), "configured": config is not None}
        if config is not None:
            raw, dpo, kto = published[config.code]
            share = None
            if raw is not None:
                share = raw.filter(pl.col("language_code") == code)
                if in_aya:  # one Aya name's share of the code (Aya writes `zho` for two names)
                    share = share.filter(pl.col("language").eq_missing(row["language"]))
            record |= _published_stats(share, dpo, kto)
            checked = language_checked(config)
            record |= {
                "config": config.code,
                "raw_repo": config.raw_repo,
                "curated_repo": config.curated_repo,
                "language_checked": checked,
                "system_prompt_reviewed": config.generation.system_prompt_reviewed,
            }
            if not checked:
                record["wrong_language_rate"] = None  # not checked, never 0 %
                for entry in record.get("models") or []:
                    entry["wrong_language_rate"] = None
            if not in_aya:
                record["note"] = f"config {config.code}: no row of this Aya source has code {code}"
        pairs = record.get("curated_pairs") or 0
        record["status"] = "curated" if pairs else ("configured" if config is not None else "not configured")
        if hub_counts is not None:
            record["other_hub_datasets"] = hub_counts.get(code, 0)
        records.append(record)
    return pl.DataFrame(records, schema=COLUMNS, strict=False)


def model_rows(coverage: pl.DataFrame) -> pl.DataFrame:
    """Config `models`: one row per language, code and answer source, from the coverage's `models`."""
    if "models" not in coverage.columns:
        return pl.DataFrame(schema=MODEL_COLUMNS)
    return (
        coverage.filter(pl.col("models").list.len() > 0)
        .select("language", "language_code", "config", "models")
        .explode("models")
        .unnest("models")
        .select(list(MODEL_COLUMNS))
        .cast(MODEL_COLUMNS)
    )


def count_hub_preference_datasets(codes: list[str], api: Any) -> dict[str, int]:
    """Other Hub datasets per Aya code that look like preference data: tagged `dpo` and the language.

    A dataset counts once when tagged either way the Hub sees the language: ISO 639-1 where one
    exists (`ar`, what the Hub's language filter uses and our cards carry first) or the code itself (`arb`).
    """
    counts = {}
    for code in codes:
        found = {
            dataset.id
            for tag in dict.fromkeys([hub_language(code), code])
            for dataset in api.list_datasets(filter=[f"language:{tag}", "dpo"], limit=1000)
        }
        counts[code] = len(found)
    return counts
