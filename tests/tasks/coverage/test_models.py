"""The coverage report's per-source figures: config `models`, the judges' agreement, the page."""

from __future__ import annotations

import polars as pl

from languages.schema import load_language
from tasks.coverage.dashboard import build_coverage_repo
from tasks.coverage.page import render_html
from tasks.coverage.report import build_coverage, model_rows
from tests.tasks.format.test_models import panel_raw


def _published() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Dutch raw rows with three sources and two judges (tests/tasks/format/test_models.py), and the two
    pairs curation would keep: model-a over model-b in r1, model-b over model-a in r2."""
    raw = panel_raw().with_columns(
        language=pl.lit("Dutch"),
        language_code=pl.lit("nld"),
        generation=pl.col("generations").list.get(1),
        generation_language_ok=pl.col("generation_languages_ok").list.get(1),
        ratings=pl.Series([[4, 5], [3, 1], None]),
        failure_reason=pl.lit(None, pl.String),
        position_consistent=pl.lit(None, pl.Boolean),
        run_at=pl.lit("2026-08-01T10:00:00+00:00"),
    )
    dpo = pl.DataFrame(
        {"id": ["r1", "r2"], "chosen_model": ["model-a", "model-b"], "rejected_model": ["model-b", "model-a"],
         "chosen_rating": [5, 5], "rejected_rating": [2, 1]}
    )  # fmt: skip
    return raw, dpo


def _coverage() -> pl.DataFrame:
    nld = load_language("nld")
    raw, dpo = _published()
    files = {(nld.raw_repo, "data"): raw, (nld.curated_repo, "default"): dpo}
    aya = pl.DataFrame({"language": ["Dutch"], "language_code": ["nld"]})
    return build_coverage(aya, [nld], lambda repo, path: files.get((repo, path)))


def test_a_row_per_language_and_source_and_the_judges_alpha() -> None:
    coverage = _coverage()
    row = coverage.row(0, named=True)
    assert row["judge_alpha"] == 0.8867  # worked out by hand in tests/tasks/format/test_models.py
    assert row["judge_models"] == ["judge-1", "judge-2"]
    assert row["generator_models"] == ["model-a", "model-b"]
    # Means as in tests/tasks/format/test_models.py; each model is on both sides of one of the two pairs.
    assert model_rows(coverage).to_dicts() == [
        {"language": "Dutch", "language_code": "nld", "config": "nld", "source": "human", "answers": 2,
         "mean_rating": 3.5, "chosen": 0, "rejected": 0, "chosen_share": None, "wrong_language_rate": None,
         "judge_mean_ratings": [{"judge": "judge-1", "mean_rating": 3.5},
                                {"judge": "judge-2", "mean_rating": 3.5}]},
        {"language": "Dutch", "language_code": "nld", "config": "nld", "source": "model-a", "answers": 2,
         "mean_rating": 3.0, "chosen": 1, "rejected": 1, "chosen_share": 0.5, "wrong_language_rate": 0.0,
         "judge_mean_ratings": [{"judge": "judge-1", "mean_rating": 3.0},
                                {"judge": "judge-2", "mean_rating": 3.0}]},
        {"language": "Dutch", "language_code": "nld", "config": "nld", "source": "model-b", "answers": 2,
         "mean_rating": 3.25, "chosen": 1, "rejected": 1, "chosen_share": 0.5, "wrong_language_rate": 0.6667,
         "judge_mean_ratings": [{"judge": "judge-1", "mean_rating": 3.5},
                                {"judge": "judge-2", "mean_rating": 3.0}]},
    ]  # fmt: skip


def test_the_repo_has_a_models_config_and_the_page_shows_it() -> None:
    coverage = _coverage()
    repo = build_coverage_repo(
        coverage, "ns/dpo-language-coverage", "2026-08-01T10:00:00+00:00", "not counted"
    )
    assert any(path.startswith("models/train-") for path in repo.files)
    assert "config_name: models" in repo.card
    default = next(path for path in repo.files if path.startswith("data/train-"))
    assert "models" not in pl.read_parquet(repo.files[default]).columns  # one flat row per language
    page = render_html(coverage, "now")
    assert "<th class=num>judges' agreement (α)</th>" in page and "<td class=num>0.89</td>" in page
    assert 'id="sources"' in page
    assert (
        "<td>model-b</td><td class=num>2</td><td class=num>3.25</td><td class=num>1</td><td class=num>1</td>"
        "<td class=num>50%</td><td class=num>67%</td><td>judge-1 3.50, judge-2 3.00</td>" in page
    )


def test_one_judge_shows_no_agreement_column() -> None:
    coverage = _coverage().with_columns(judge_alpha=pl.lit(None, pl.Float64))
    assert "judges' agreement" not in render_html(coverage, "now").split('id="models"')[1]
