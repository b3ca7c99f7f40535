"""Text similarity for near-duplicate prompts and near-copied answers.

Two prompts are near duplicates when their character 5-gram sets (case, punctuation and white space
folded) have a Jaccard similarity of at least the config's threshold, or when they are typo twins:
one inserted, deleted, replaced or swapped character apart, with the longer prompt at least
`TYPO_MIN_CHARS` long and the same numbers in both (a changed number is a different question).
Shingles and hashes are computed column-wise with polars and numpy; MinHash LSH proposes Jaccard
candidates and every candidate is confirmed with the exact similarity of the 5-gram sets.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import cache

import numpy as np
import polars as pl

SHINGLE = 5
# MinHash permutations for the LSH; how they split into bands depends on the threshold (_lsh_shape).
PERMUTATIONS = 80
# Missing a near duplicate costs more than checking a candidate that is not one.
_MISS_WEIGHT = 0.75
# A typo twin's longer prompt has at least this many characters (the criterion: 40).
TYPO_MIN_CHARS = 40
# Texts of an LSH bucket a later text is compared with: bounds the work in large families.
BUCKET_LEADERS = 3
# Candidates whose MinHash estimate is this far under the threshold are not checked exactly
# (80 permutations: at 0.9 the estimate's standard deviation is 0.034, so 0.08 is 2.4 of them).
_ESTIMATE_MARGIN = 0.08
_NOT_WORD = re.compile(r"[^\w\s]+")
_NUMBER = re.compile(r"\d+")
_SEED = 20_240_611
_MASK64 = (1 << 64) - 1
_P = 0x100000001B3  # odd, so it has an inverse modulo 2**64 (used by the deletion-variant hashes)


def shingles(text: str | None) -> set[str]:
    """Character 5-grams of the text with case, punctuation and runs of white space folded."""
    folded = " ".join(_NOT_WORD.sub(" ", unicodedata.normalize("NFKC", text or "").lower()).split())
    if len(folded) <= SHINGLE:
        return {folded} if folded else set()
    return {folded[i : i + SHINGLE] for i in range(len(folded) - SHINGLE + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two sets; two empty sets are identical."""
    return len(a & b) / len(a | b) if a or b else 1.0


def similarity(a: str | None, b: str | None) -> float:
    """Exact Jaccard similarity of two texts' shingles: 1.0 for the same text up to case and punctuation."""
    return jaccard(shingles(a), shingles(b))


def fold(texts: pl.Series) -> pl.Series:
    """The folding of `shingles`, column-wise: NFKC, lower case, punctuation to space, spaces collapsed.

    `[^\\p{L}\\p{N}_\\s]` is Python's `[^\\w\\s]` spelled for polars' regex engine, whose `\\w` would
    also keep combining marks.
    """
    return (
        texts.fill_null("")
        .str.normalize("NFKC")
        .str.to_lowercase()
        .str.replace_all(r"[^\p{L}\p{N}_\s]+", " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def fold_spaced(texts: pl.Series) -> pl.Series:
    """`fold` of texts already NFKC-normalised, lower-cased, with single spaces and stripped (the
    filter's duplicate keys): only punctuation is left to fold, in one pass over the text."""
    return texts.fill_null("").str.replace_all(r"(?:\s*[^\p{L}\p{N}_\s]+)+\s*", " ").str.strip_chars()


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads polynomial hashes over all 64 bits."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


class _Corpus:
    """Folded texts as one code-point array, with each text's start and length."""

    def __init__(self, folded: list[str]) -> None:
        self.lengths = np.fromiter((len(text) for text in folded), dtype=np.int64, count=len(folded))
        self.starts = np.zeros(len(folded), dtype=np.int64)
        np.cumsum(self.lengths[:-1], out=self.starts[1:])
        joined = "".join(folded).encode("utf-32-le")
        self.points = np.frombuffer(joined, dtype=np.uint32).astype(np.uint64)

    def grams(self) -> tuple[np.ndarray, np.ndarray]:
        """(text index, 64-bit hash) of every 5-gram; a text of 1-5 characters is one gram."""
        points, lengths = self.points, self.lengths
        n = len(points)
        padded = np.concatenate([points, np.zeros(SHINGLE, dtype=np.uint64)])
        hashes = padded[:n].copy()
        for offset in range(1, SHINGLE):
            hashes *= np.uint64(_P)
            hashes += padded[offset : n + offset]
        owner = np.repeat(np.arange(len(lengths)), lengths)
        ends = (self.starts + lengths)[owner]
        # A gram starts where five code points of its text follow, or at the start of a short text.
        valid = np.arange(n) + SHINGLE <= ends
        short = lengths < SHINGLE
        if short.any():
            valid[self.starts[short & (lengths > 0)]] = True
            hashes[self.starts[short & (lengths > 0)]] = self._short_hashes(
                np.flatnonzero(short & (lengths > 0))
            )
        return owner[valid], _mix(hashes[valid])

    def _short_hashes(self, texts: np.ndarray) -> np.ndarray:
        hashes = np.zeros(len(texts), dtype=np.uint64)
        for offset in range(SHINGLE):
            inside = offset < self.lengths[texts]
            point = np.where(
                inside, self.points[np.minimum(self.starts[texts] + offset, len(self.points) - 1)], 0
            )
            hashes = hashes * np.uint64(_P) + point.astype(np.uint64)
        return hashes

    def deletion_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """(text index, key) for each text itself and each text with one non-digit character deleted.

        Two texts one typo apart share a key (insertion, deletion, replacement or swap of two
        neighbours), and texts whose digits differ never do. The hashes are polynomial: with
        W[g] = c[g] * P^-g and its running sum S, the text from s of length L without position i
        hashes to P^(s+L-2) (S[s+i] - S[s]) + P^(s+L-1) (S[s+L] - S[s+i+1]), all modulo 2**64.
        """
        points, starts, lengths = self.points, self.starts, self.lengths
        n = len(points)
        inverse = pow(_P, -1, 1 << 64)
        with np.errstate(over="ignore"):
            powers = np.cumprod(np.full(n + 2, _P, dtype=np.uint64))
            powers = np.concatenate([[np.uint64(1)], powers])
            inverse_powers = np.concatenate(
                [[np.uint64(1)], np.cumprod(np.full(n + 1, inverse, dtype=np.uint64))]
            )
            running = np.zeros(n + 1, dtype=np.uint64)
            np.cumsum(points * inverse_powers[:n], out=running[1:])
            ends = starts + lengths
            whole = powers[np.maximum(ends - 1, 0)] * (running[ends] - running[starts])
            whole_keys = _mix(whole ^ (lengths.astype(np.uint64) << np.uint64(40)))

            owner = np.repeat(np.arange(len(lengths)), lengths)
            position = np.arange(n)
            letter = ~((points >= 48) & (points <= 57))  # digits are never typos: keep them in every key
            owner, position = owner[letter], position[letter]
            start, end = starts[owner], ends[owner]
            variant = powers[np.maximum(end - 2, 0)] * (running[position] - running[start]) + powers[
                end - 1
            ] * (running[end] - running[position + 1])
            variant_keys = _mix(variant ^ ((end - start - 1).astype(np.uint64) << np.uint64(40)))
        texts = np.concatenate([np.arange(len(lengths)), owner])
        return texts, np.concatenate([whole_keys, variant_keys])


def _one_typo(a: str, b: str) -> bool:
    """Whether b is a with one character inserted, deleted, replaced, or two neighbours swapped."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    first = 0  # the first position where they differ
    while first < len(a) and a[first] == b[first]:
        first += 1
    if len(a) < len(b):
        return a[first:] == b[first + 1 :]
    if a[first + 1 :] == b[first + 1 :]:
        return True
    swapped = a[first : first + 2] == b[first : first + 2][::-1]
    return first + 1 < len(a) and swapped and a[first + 2 :] == b[first + 2 :]


def _shared_key_pairs(texts: np.ndarray, keys: np.ndarray, leaders: int | None = None) -> np.ndarray:
    """Unique (earlier, later) text pairs that share a key, as an (n, 2) array.

    With `leaders`, only pairs with one of the first `leaders` entries holding the key: entries are
    taken in the order given (a stable sort), so give them in text order for "first texts".
    """
    order = np.argsort(keys, kind="stable" if leaders else "quicksort")
    keys, texts = keys[order], texts[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    sizes = np.diff(np.append(starts, len(keys)))
    # A key held by one text only, even several times (a doubled letter), pairs nothing.
    shared = np.minimum.reduceat(texts, starts) != np.maximum.reduceat(texts, starts)
    starts, sizes = starts[shared], sizes[shared]
    if not len(starts):
        return np.zeros((0, 2), dtype=np.int64)
    run_start = np.repeat(starts, sizes)
    members = run_start + (np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes))
    rank = members - run_start
    longest = int(sizes.max()) - 1
    pairs = []
    for leader in range(longest if leaders is None else min(leaders, longest)):
        later = rank > leader
        pairs.append(np.stack([texts[run_start[later] + leader], texts[members[later]]], axis=1))
    found = np.concatenate(pairs)
    found = np.stack([found.min(axis=1), found.max(axis=1)], axis=1)
    found = found[found[:, 0] < found[:, 1]]
    width = int(texts.max()) + 1
    unique = np.unique(found[:, 0] * width + found[:, 1])
    return np.stack([unique // width, unique % width], axis=1)


def _typo_pairs(folded: list[str], raw_lengths: np.ndarray) -> list[tuple[int, int]]:
    """(earlier, later) pairs of texts that are typo twins.

    Texts are compared without their spaces: a dropped one-letter word ("clima y el" against "clima
    el") or a letter typed next to an apostrophe is one edit of the text, though two once folded.
    Numbers are compared as they are written, so "12 3" and "123" stay apart.
    """
    squeezed = [text.replace(" ", "") for text in folded]
    texts, keys = _Corpus(squeezed).deletion_keys()
    found = []
    for earlier, later in _shared_key_pairs(texts, keys).tolist():
        if max(raw_lengths[earlier], raw_lengths[later]) < TYPO_MIN_CHARS:
            continue
        if _one_typo(squeezed[earlier], squeezed[later]) and _numbers(folded[earlier]) == _numbers(
            folded[later]
        ):
            found.append((earlier, later))
    return found


def _numbers(text: str) -> list[str]:
    return _NUMBER.findall(text)


@cache
def lsh_shape(threshold: float) -> tuple[int, int]:
    """Bands and rows per band for the threshold: least weighted area of misses and false candidates.

    At 0.9 this is 5 bands of 16 rows: a pair at 0.9 is a candidate with probability 0.64, at 0.95
    with 0.97, at 0.8 with 0.13 (datasketch's MinHashLSH, used before, found 0.31 at 0.9).
    """
    similarities = np.linspace(0.0, 1.0, 1001)
    best: tuple[float, int, int] | None = None
    for bands in range(1, PERMUTATIONS + 1):
        for rows in range(1, PERMUTATIONS // bands + 1):
            found = 1.0 - (1.0 - similarities**rows) ** bands
            false = np.trapezoid(np.where(similarities < threshold, found, 0.0), similarities)
            missed = np.trapezoid(np.where(similarities >= threshold, 1.0 - found, 0.0), similarities)
            cost = (1 - _MISS_WEIGHT) * false + _MISS_WEIGHT * missed
            if best is None or cost < best[0]:
                best = (cost, bands, rows)
    assert best is not None
    return best[1], best[2]


def _signatures(owner: np.ndarray, grams: np.ndarray, texts: np.ndarray) -> np.ndarray:
    """MinHash signatures, one row per text in `texts` (each has at least one gram)."""
    firsts = np.searchsorted(owner, texts)
    values = (grams >> np.uint64(32)).astype(np.uint32)
    rng = np.random.default_rng(_SEED)
    multipliers = rng.integers(1, 1 << 32, PERMUTATIONS, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
    offsets = rng.integers(0, 1 << 32, PERMUTATIONS, dtype=np.uint64).astype(np.uint32)
    signatures = np.empty((len(texts), PERMUTATIONS), dtype=np.uint32)
    with np.errstate(over="ignore"):
        for column in range(PERMUTATIONS):
            signatures[:, column] = np.minimum.reduceat(
                values * multipliers[column] + offsets[column], firsts
            )
    return signatures


def _jaccard_candidates(owner: np.ndarray, grams: np.ndarray, count: int, threshold: float) -> np.ndarray:
    """(earlier, later) candidate pairs for Jaccard >= threshold, best MinHash estimate first.

    MinHash LSH proposes them; in each bucket a text is paired with the first `BUCKET_LEADERS`
    texts only: that is where the text kept from a group of near duplicates is, and it bounds the
    work in large families. Pairs whose estimate is well under the threshold are left out.
    """
    texts = np.flatnonzero(np.bincount(owner, minlength=count) > 0)
    if len(texts) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    signatures = _signatures(owner, grams, texts)
    bands, rows = lsh_shape(threshold)
    keys = np.zeros((len(texts), bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for row in range(rows):
            keys = keys * np.uint64(_P) + signatures[:, row : bands * rows : rows].astype(np.uint64)
    keys = _mix(keys ^ np.arange(bands, dtype=np.uint64))  # one key space per band
    candidates = _shared_key_pairs(np.tile(np.arange(len(texts)), bands), keys.T.ravel(), BUCKET_LEADERS)
    agree = np.zeros(len(candidates), dtype=np.int32)
    for column in range(PERMUTATIONS):
        agree += signatures[candidates[:, 0], column] == signatures[candidates[:, 1], column]
    estimate = agree / PERMUTATIONS
    keep = estimate >= threshold - _ESTIMATE_MARGIN
    candidates, estimate = texts[candidates[keep]], estimate[keep]
    return candidates[np.lexsort((-estimate, candidates[:, 1]))]


def near_duplicate_sources(
    texts: Sequence[str | None],
    threshold: float,
    raw_lengths: Sequence[int] | None = None,
    folded: Sequence[str] | None = None,
) -> list[int | None]:
    """For each text, the index of an earlier kept text it nearly duplicates, or None (it stays).

    Texts are taken in order and compared with the texts kept so far, so the first of a group stays
    and a chain A ~ B ~ C with A !~ C keeps A and C. `raw_lengths` are the texts' lengths before
    folding (stripped), for the typo rule; by default they are computed from `texts`. `folded` is
    `fold(texts)` when the caller has it already.
    """
    if not len(texts):
        return []
    if folded is None or raw_lengths is None:  # else the texts themselves are not needed
        series = pl.Series(list(texts), dtype=pl.String)
        folded = fold(series).to_list() if folded is None else folded
        if raw_lengths is None:
            raw_lengths = series.fill_null("").str.strip_chars().str.len_chars().to_list()
    folded = list(folded)
    corpus = _Corpus(folded)
    owner, grams = corpus.grams()
    typo: dict[int, list[int]] = {}
    for earlier, later in _typo_pairs(folded, np.asarray(raw_lengths)):
        typo.setdefault(later, []).append(earlier)
    empty = [text for text, value in enumerate(folded) if not value]
    for later in empty[1:]:  # empty after folding: identical to the first empty text
        typo.setdefault(later, []).append(empty[0])
    candidates = _jaccard_candidates(owner, grams, len(folded), threshold)
    laters = candidates[:, 1]
    spans: dict[int, tuple[int, int]] = {}
    if len(laters):
        firsts = np.flatnonzero(np.concatenate([[True], laters[1:] != laters[:-1]]))
        lasts = np.append(firsts[1:], len(laters))
        spans = dict(
            zip(laters[firsts].tolist(), zip(firsts.tolist(), lasts.tolist(), strict=True), strict=True)
        )
    earliers = candidates[:, 0].tolist()

    bounds = np.searchsorted(owner, np.arange(len(folded) + 1)).tolist()
    grams_list = grams.tolist()
    sets: list[frozenset[int] | None] = [None] * len(folded)

    def gram_set(text: int) -> frozenset[int]:
        found = sets[text]
        if found is None:
            found = sets[text] = frozenset(grams_list[bounds[text] : bounds[text + 1]])
        return found

    sources: list[int | None] = [None] * len(folded)
    for later in sorted(typo.keys() | spans.keys()):
        # Only a text that stays can make a later one a duplicate.
        source = None
        if later in typo:
            source = min((e for e in typo[later] if sources[e] is None), default=None)
        if source is None and later in spans:
            first, last = spans[later]
            mine = gram_set(later)
            size = len(mine)
            for earlier in earliers[first:last]:  # best MinHash estimate first
                if sources[earlier] is not None:
                    continue
                theirs = gram_set(earlier)
                common = len(mine & theirs)
                if common >= threshold * (size + len(theirs) - common):
                    source = earlier
                    break
        sources[later] = source
    return sources


def near_duplicates(texts: Sequence[str | None], threshold: float) -> list[bool]:
    """For each text, whether it nearly duplicates an earlier kept text (the first one stays)."""
    return [source is not None for source in near_duplicate_sources(texts, threshold)]
