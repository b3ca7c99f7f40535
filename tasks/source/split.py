"""Aya split by language once per process: `run --all` reads and partitions the source one time and
each language's flow takes only its own rows, instead of reading and scanning all of Aya again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from languages.schema import LanguageConfig
from tasks.source.load import AYA_REVISION, load_aya

ROW = "aya_row"  # position in the source: keeps source order when a language has several codes


@dataclass(frozen=True)
class AyaSplit:
    """The source's rows by `language_code` (null codes under ""), each part in source order."""

    rows: int
    parts: dict[str, pl.DataFrame]

    @classmethod
    def of(cls, aya: pl.DataFrame) -> AyaSplit:
        frame = aya.with_row_index(ROW).with_columns(pl.col("language_code").fill_null(""))
        parts = frame.partition_by("language_code", as_dict=True, maintain_order=True)
        return cls(aya.height, {key[0]: part for key, part in parts.items()})

    def select(self, codes: Iterable[str]) -> pl.DataFrame:
        """The rows of these codes, in source order, with their `aya_row`."""
        chosen = [self.parts[code] for code in dict.fromkeys(codes) if code in self.parts]
        if not chosen:
            return next(iter(self.parts.values()), _EMPTY).clear()
        return chosen[0] if len(chosen) == 1 else pl.concat(chosen).sort(ROW)

    def others(self, codes: Iterable[str], count: int) -> pl.DataFrame:
        """The first `count` rows of every other code, in source order (examples of other rows)."""
        wanted = set(codes)
        heads = [part.head(count) for code, part in self.parts.items() if code not in wanted]
        return pl.concat(heads).sort(ROW).head(count) if heads else _EMPTY

    def languages(self) -> pl.DataFrame:
        """Rows per (language name, language_code), most rows first."""
        if not self.parts:
            return pl.DataFrame(schema={"language": pl.String, "language_code": pl.String, "rows": pl.UInt32})
        return (
            pl.concat(part.select("language", "language_code") for part in self.parts.values())
            .group_by("language", "language_code")
            .agg(rows=pl.len())
            .sort(["rows", "language_code", "language"], descending=[True, False, False], nulls_last=True)
        )


_EMPTY = pl.DataFrame(
    schema={ROW: pl.UInt32}
    | {c: pl.String for c in ("inputs", "targets", "language", "language_code", "annotation_type", "user_id")}
)
_cache: dict[tuple, AyaSplit] = {}


def _cache_key(source: str) -> tuple:
    if source == "hub":
        return (source, AYA_REVISION)
    if source == "sample":
        return (source,)
    path = Path(source)
    stat = path.stat() if path.is_file() else None
    # A changed file (new content, same name) is read again.
    return (str(path.resolve()), stat.st_size if stat else None, stat.st_mtime_ns if stat else None)


def load_split(source: str) -> AyaSplit:
    """The source read and split by language, once per process (later calls reuse it)."""
    key = _cache_key(source)
    found = _cache.get(key)
    if found is None:
        _cache.clear()  # hold one source at a time: Aya is the largest thing in memory
        found = _cache[key] = AyaSplit.of(load_aya(source))
    return found


def claims(split: AyaSplit, configs: dict[str, LanguageConfig]) -> tuple[list[dict[str, object]], list[str]]:
    """Each (language name, language_code) of the source with its rows and the config claiming it
    (None when no config does), and the configs that claim no row of the source.

    A config claims a pair when the code is one of its `aya_language_codes` and, where it lists
    `aya_language_names`, the name is one of those.
    """
    table = split.languages().to_dicts()
    used: set[str] = set()
    for entry in table:
        entry["config"] = None
        for stem, config in configs.items():
            names = getattr(config, "aya_language_names", None)
            if entry["language_code"] in config.aya_language_codes and (
                not names or entry["language"] in names
            ):
                entry["config"] = stem
                used.add(stem)
                break
    return table, [stem for stem in configs if stem not in used]
