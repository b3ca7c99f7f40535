"""Text similarity for near-duplicate prompts and near-copied answers: Jaccard similarity of
character 5-gram shingles, with MinHash LSH (datasketch) to find candidate pairs among many texts."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from datasketch import MinHash, MinHashLSH

SHINGLE = 5
PERMUTATIONS = 128
_NOT_WORD = re.compile(r"[^\w\s]+")


def shingles(text: str | None) -> set[str]:
    """Character 5-grams of the text with case, punctuation and runs of white space folded."""
    folded = " ".join(_NOT_WORD.sub(" ", unicodedata.normalize("NFKC", text or "").lower()).split())
    if len(folded) <= SHINGLE:
        return {folded} if folded else set()
    return {folded[i : i + SHINGLE] for i in range(len(folded) - SHINGLE + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def similarity(a: str | None, b: str | None) -> float:
    """Exact Jaccard similarity of two texts' shingles: 1.0 for the same text up to case and punctuation."""
    return jaccard(shingles(a), shingles(b))


def near_duplicates(texts: Sequence[str | None], threshold: float) -> list[bool]:
    """For each text, whether an earlier text is at least `threshold` similar (the first one stays).

    MinHash LSH proposes candidates; each candidate is confirmed with the exact similarity, so the
    answer does not depend on MinHash's estimation noise.
    """
    index = MinHashLSH(threshold=threshold, num_perm=PERMUTATIONS)
    kept: dict[str, set[str]] = {}
    flags = []
    for position, text in enumerate(texts):
        grams = shingles(text)
        signature = MinHash(num_perm=PERMUTATIONS)
        signature.update_batch([gram.encode("utf-8") for gram in grams])
        duplicate = any(jaccard(grams, kept[key]) >= threshold for key in index.query(signature))
        flags.append(duplicate)
        if not duplicate:
            key = str(position)
            kept[key] = grams
            index.insert(key, signature)
    return flags
