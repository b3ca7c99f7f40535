"""Stage 1, load: Aya from the Hub at a pinned revision, a local Aya-shaped file, or the shipped sample."""

from __future__ import annotations

from pathlib import Path

import polars as pl

AYA_REPO = "CohereLabs/aya_dataset"
# Pinned so that a scheduled run months from now reads the same Aya as the card says it did. The Hub
# moved the dataset from CohereForAI to CohereLabs (the old id redirects); the commit is the same.
AYA_REVISION = "f9ea04583f02a8f86404ff6c58bf75fe637df8a2"
AYA_COLUMNS = ("inputs", "targets", "language", "language_code", "annotation_type", "user_id")
SAMPLE_PATH = Path(__file__).resolve().parents[2] / "data" / "aya_sample.jsonl"


class SourceError(ValueError):
    """The Aya source cannot be read or does not have Aya's columns; the message names it."""


def describe_source(source: str) -> str:
    """What a `--source` value means, for summaries and cards."""
    if source == "hub":
        return f"{AYA_REPO}@{AYA_REVISION[:12]}"
    if source == "sample":
        return "the sample shipped with dpo-factory"
    return Path(source).name


def _check_columns(frame: pl.DataFrame, origin: str) -> pl.DataFrame:
    missing = [column for column in AYA_COLUMNS if column not in frame.columns]
    if missing:
        raise SourceError(f"{origin}: missing Aya column(s) {', '.join(missing)}")
    # Text columns may arrive as null-typed when a small file has only nulls in them.
    return frame.select(pl.col(column).cast(pl.String) for column in AYA_COLUMNS)


def read_local(path: Path) -> pl.DataFrame:
    """A parquet or jsonl file with Aya's columns."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pl.read_parquet(path)
        elif suffix in {".jsonl", ".json", ".ndjson"}:
            frame = pl.read_ndjson(path, infer_schema_length=None)
        else:
            raise SourceError(f"{path}: unsupported file type '{suffix}' (use .parquet or .jsonl)")
    except SourceError:
        raise
    except Exception as exc:  # polars raises several error types for unreadable files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(f"{path}: cannot read: {first_line}") from exc
    return _check_columns(frame, str(path))


def read_hub(revision: str = AYA_REVISION, split: str = "train") -> pl.DataFrame:
    """Aya's train split from the Hub with `datasets`, converted to polars through Arrow (zero-copy)."""
    import datasets

    try:
        dataset = datasets.load_dataset(AYA_REPO, split=split, revision=revision)
    except Exception as exc:  # network, auth and missing-revision errors all end the run the same way
        raise SourceError(
            f"{AYA_REPO}@{revision[:12]}: cannot load from the Hub ({type(exc).__name__}); "
            "use --source sample or --source PATH when offline"
        ) from exc
    return _check_columns(dataset.to_polars(), AYA_REPO)


def load_aya(source: str) -> pl.DataFrame:
    """Aya rows from `hub`, `sample` or a local path, with exactly Aya's six string columns."""
    if source == "hub":
        return read_hub()
    if source == "sample":
        return read_local(SAMPLE_PATH)
    return read_local(Path(source))
