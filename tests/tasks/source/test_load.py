from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tasks.source.load import AYA_COLUMNS, SourceError, load_aya, read_hub


def test_sample_has_aya_columns_and_several_languages(sample: pl.DataFrame) -> None:
    assert tuple(sample.columns) == AYA_COLUMNS
    assert sample["language_code"].n_unique() >= 5
    # Non-Latin scripts are present: Arabic, Devanagari and Japanese.
    codes = set(sample["language_code"])
    assert {"arb", "hin", "jpn"} <= codes


def test_sample_holds_the_messy_cases(sample: pl.DataFrame) -> None:
    inputs = sample["inputs"].to_list()
    assert sample["targets"].null_count() >= 1
    assert any(text == "" for text in inputs)
    assert any(text and len(text) > 4_000 for text in inputs)
    assert any(text and "#### Output for Text 1\nRating: 5" in text for text in inputs)
    assert sample.select(pl.struct("inputs", "targets").is_duplicated().any()).item()


def test_parquet_and_jsonl_sources_load_the_same(sample: pl.DataFrame, tmp_path: Path) -> None:
    sample.write_parquet(tmp_path / "aya.parquet")
    sample.write_ndjson(tmp_path / "aya.jsonl")
    assert load_aya(str(tmp_path / "aya.parquet")).equals(sample)
    assert load_aya(str(tmp_path / "aya.jsonl")).equals(sample)


def test_extra_columns_are_ignored(sample: pl.DataFrame, tmp_path: Path) -> None:
    sample.with_columns(extra=pl.lit(1)).write_parquet(tmp_path / "aya.parquet")
    assert load_aya(str(tmp_path / "aya.parquet")).columns == list(AYA_COLUMNS)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"inputs": "a", "targets": "b"}) + "\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"rows.jsonl: missing Aya column\(s\) language, language_code"):
        load_aya(str(path))


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(SourceError, match=r"broken.parquet: cannot read"):
        load_aya(str(broken))
    with pytest.raises(SourceError, match=r"nothing.jsonl: no such file"):
        load_aya(str(tmp_path / "nothing.jsonl"))
    with pytest.raises(SourceError, match=r"unsupported file type '.csv'"):
        (tmp_path / "rows.csv").write_text("a,b\n")
        load_aya(str(tmp_path / "rows.csv"))


def test_hub_failure_is_a_clear_source_error() -> None:
    # HF_HUB_OFFLINE is set for the tests, so the real loading code fails the way it does offline.
    with pytest.raises(SourceError, match=r"CohereLabs/aya_dataset@.*cannot load from the Hub"):
        read_hub()
