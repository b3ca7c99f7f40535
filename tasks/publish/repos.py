"""What a dataset repo holds, as plain bytes in memory: Parquet data files with the `dataset_info`
their card records, and the card's YAML frame. The same bytes go to a local folder or to the Hub, and
two versions of a repo compare by hash. The cards' text is written in `tasks/publish/cards.py`.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

import datasets
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCardData

# Folders of each config's Parquet file. File names carry a hash of their content
# (`train-00000-of-00001-<hash>.parquet`): `datasets` keys its local cache on the card's data-file
# patterns, so a new version under an unchanged name could be served stale from that cache.
RAW_DATA = "data"
DPO_DATA = "default"
KTO_DATA = "kto"


@dataclass
class DatasetRepo:
    """Everything one dataset repo holds: its id, card text and files (path in repo -> bytes)."""

    repo_id: str
    card: str
    files: dict[str, bytes] = field(default_factory=dict)


def _plain_arrow_type(kind: pa.DataType) -> pa.DataType:
    """polars writes large strings and lists; plain ones are what most Parquet readers expect."""
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    if pa.types.is_large_list(kind) or pa.types.is_list(kind):
        return pa.list_(_plain_arrow_type(kind.value_type))
    if pa.types.is_struct(kind):
        return pa.struct([pa.field(f.name, _plain_arrow_type(f.type)) for f in kind])
    return kind


@dataclass
class DataFile:
    """One config's train split as Parquet, with the `dataset_info` the card records for it."""

    path: str
    content: bytes
    info: datasets.DatasetInfo


def data_file(folder: str, frame: pl.DataFrame) -> DataFile:
    """`<folder>/train-00000-of-00001-<content hash>.parquet` with plain Arrow types, and its info."""
    table = frame.to_arrow()
    table = table.cast(pa.schema([pa.field(f.name, _plain_arrow_type(f.type)) for f in table.schema]))
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    content = buffer.getvalue()
    path = f"{folder}/train-00000-of-00001-{hashlib.sha256(content).hexdigest()[:12]}.parquet"
    # Sizes and features in the card are what the Hub shows, and they key `datasets`' local cache to
    # the content: without them, two versions written to the same folder would share a cache entry.
    # The size is the file's table as read back: in-memory buffers differ for the same content (a
    # nested list built row by row holds more than the same list read from Parquet).
    size = pq.read_table(io.BytesIO(content)).nbytes
    info = datasets.DatasetInfo(
        features=datasets.Features.from_arrow_schema(table.schema),
        splits=datasets.SplitDict(
            {"train": datasets.SplitInfo(name="train", num_bytes=size, num_examples=table.num_rows)}
        ),
        download_size=len(content),
        dataset_size=size,
    )
    return DataFile(path, content, info)


def card_text(files: dict[str, DataFile], title: str, body: str, **metadata: Any) -> str:
    """Card text: YAML metadata (with `configs` and `dataset_info` per config), then the body."""
    configs = [
        {"config_name": name, "data_files": [{"split": "train", "path": f.path}]} for name, f in files.items()
    ]
    data = DatasetCardData(configs=configs, **metadata)
    DatasetInfosDict({name: f.info for name, f in files.items()}).to_dataset_card_data(data)
    # The same text as `DatasetCard(...).content`, without parsing the YAML back (tens of ms a card).
    return f"---\n{data.to_yaml()}\n---\n\n# {title}\n\n{body}"


def size_category(rows: int) -> str:
    for bound, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if rows < bound:
            return label
    return "1M<n<10M"


def is_data_file(path_in_repo: str, folder: str) -> bool:
    """Whether a path in a repo is one of `folder`'s Parquet data files (`<folder>/train-*.parquet`)."""
    return path_in_repo.startswith(f"{folder}/train-") and path_in_repo.endswith(".parquet")


def repo_manifest(repo: DatasetRepo) -> dict[str, bytes]:
    """Every file a repo holds once published, card included: path in repo -> content."""
    return {"README.md": repo.card.encode("utf-8"), **repo.files}
