"""The KTO view's row order against TRL's KL pairing (mirrored by `kl_partners`; the real-TRL test
checks the mirror against the KL completions a real KTOTrainer builds)."""

from __future__ import annotations

import random

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from languages.schema import Curation
from tasks.format.kto import KTO_COLUMNS, build_kto, interleaved_order, kl_partners, same_prompt_kl_pairs
from tasks.format.views import build_dpo, build_raw
from tests.tasks.format.test_views import _result

BATCH_SIZES = [2, 4, 6, 8, 10, 16, 32]  # TRL's default and the card's is 8


def _dpo(pairs: int) -> pl.DataFrame:
    raw = build_raw([_result(f"row-{n:03d}", [5, 2] if n % 2 else [1, 4]) for n in range(pairs)], "r1")
    return build_dpo(raw, Curation())[0]


def test_kl_partners_rotate_by_one_within_each_chunk() -> None:
    """Row s of a chunk [s, e) gets row e-1's completion, every other row its predecessor's; a one-row chunk its own."""
    assert kl_partners(5, 2) == [1, 0, 3, 2, 4]
    assert kl_partners(7, 4) == [3, 0, 1, 2, 6, 4, 5]
    assert kl_partners(3, 8) == [2, 0, 1]
    assert kl_partners(0, 8) == []
    with pytest.raises(ValueError):
        kl_partners(4, 0)


def test_same_prompt_pairs_of_twins_written_side_by_side() -> None:
    """The layout before this order: each pair's two rows next to each other."""
    twins = [pair for pair in "abcdefg" for _ in range(2)]  # 7 pairs, 14 rows, as Dutch in the sample
    assert same_prompt_kl_pairs(twins, 8) == 7
    assert same_prompt_kl_pairs(twins, 2) == 14
    assert same_prompt_kl_pairs(twins, 4) == 8
    assert same_prompt_kl_pairs(list("abcdefgabcdefg"), 8) == 1  # all True rows, then all False


@given(st.integers(min_value=2, max_value=80), st.sampled_from(BATCH_SIZES))
def test_no_even_batch_pairs_a_row_with_its_twin(pairs: int, batch_size: int) -> None:
    order = interleaved_order([f"p{n}" for n in range(pairs)])
    ids = [pair for pair, _ in order]
    assert sorted(order) == sorted((f"p{n}", label) for n in range(pairs) for label in (True, False))
    assert same_prompt_kl_pairs(ids, batch_size) == 0
    labels = [label for _, label in order]
    assert all(labels[i] != labels[i + 1] for i in range(0, len(labels), 2))  # balanced in every batch of 2


def test_a_single_pair_cannot_be_kept_apart() -> None:
    """Two rows of one prompt: any batch that holds both pairs them. Documented in the card and docs."""
    assert interleaved_order(["only"]) == [("only", True), ("only", False)]
    assert same_prompt_kl_pairs(["only", "only"], 8) == 2
    assert interleaved_order([]) == []


def test_kto_rows_and_columns() -> None:
    dpo = _dpo(7)
    kto = build_kto(dpo)
    assert kto.columns == KTO_COLUMNS == ["id", "prompt", "completion", "label", "preference_source"]
    assert kto.height == 2 * dpo.height and kto["label"].sum() == dpo.height
    for pair in dpo.iter_rows(named=True):
        rows = {row["label"]: row for row in kto.filter(pl.col("id") == pair["id"]).iter_rows(named=True)}
        assert rows[True]["completion"] == pair["chosen"] and rows[False]["completion"] == pair["rejected"]
        assert rows[True]["prompt"] == rows[False]["prompt"] == pair["prompt"]
        assert rows[True]["preference_source"] == pair["preference_source"] == "judge"
    for batch_size in BATCH_SIZES:
        assert same_prompt_kl_pairs(kto["id"].to_list(), batch_size) == 0


def test_kto_order_is_fixed_whatever_order_the_pairs_come_in() -> None:
    dpo = _dpo(9)
    shuffled = dpo.sample(fraction=1.0, shuffle=True, seed=3)
    assert build_kto(shuffled).equals(build_kto(dpo))
    ids = dpo["id"].to_list()
    random.Random(5).shuffle(ids)
    assert interleaved_order(ids) == interleaved_order(dpo["id"].to_list())


def test_kto_order_is_a_shuffle_not_the_id_order() -> None:
    order = [pair for pair, label in interleaved_order([f"p{n:02d}" for n in range(20)]) if label]
    assert order != sorted(order)
