"""Stage 7, the KTO view: the curated pairs as TRL's unpaired rows, in an order that keeps KTO's KL term honest.

TRL's KTOTrainer estimates its KL term from mismatched pairs: when it prepares the dataset it gives each
row the completion of its neighbour, rotating completions by one within consecutive chunks of
`per_device_train_batch_size` rows, in dataset order (`KTOTrainer._prepare_dataset`, TRL 1.16). The
two rows of one pair answer the same prompt, so rows written twin after twin give many rows a "mismatched"
completion that answers their own prompt. The rows here are ordered so that, for every even batch size,
no chunk rotates a row onto its twin (`same_prompt_kl_pairs` counts such pairs; the real-TRL test checks
it against the KL completions a real KTOTrainer builds). With a single pair it cannot be avoided.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import polars as pl

KTO_COLUMNS = ["id", "prompt", "completion", "label", "preference_source"]
# The fixed seed of the shuffle of pairs: the order is the same on every run and machine, and does not
# depend on the order the pairs come in.
KTO_ORDER_SEED = "dpo-factory/kto-order/1"


def _shuffle_key(pair_id: str) -> str:
    return hashlib.sha256(f"{KTO_ORDER_SEED}:{pair_id}".encode()).hexdigest()


def interleaved_order(pair_ids: Sequence[str]) -> list[tuple[str, bool]]:
    """(pair id, label) in KTO row order: each pair gives a True and a False row.

    The pairs are shuffled with a fixed seed, then laid out two at a time as `p+ q- p- q+`: within a
    block no two neighbours share a prompt, twins sit two apart, and neighbouring blocks hold other
    prompts. With an odd number of pairs the last three go as `p+ q- p- r+ q+ r-`. So in the whole
    sequence no two adjacent rows share a prompt, and the first and last row of a chunk (the other pair
    the rotation makes) never do either when the chunk starts at an even row, i.e. for every even batch
    size: twins are two rows apart, or three apart starting at an odd row. Each pair of rows starting
    at an even row holds one True and one False.
    """
    ids = sorted(dict.fromkeys(pair_ids), key=_shuffle_key)
    if len(ids) == 1:
        return [(ids[0], True), (ids[0], False)]  # one prompt: a chunk of two always pairs the twins
    order: list[tuple[str, bool]] = []
    blocks = len(ids) // 2 - (len(ids) % 2)  # blocks of two pairs; an odd count ends in a block of three
    for k in range(blocks):
        p, q = ids[2 * k], ids[2 * k + 1]
        order += [(p, True), (q, False), (p, False), (q, True)]
    if len(ids) % 2:
        p, q, r = ids[-3:]
        order += [(p, True), (q, False), (p, False), (r, True), (q, True), (r, False)]
    return order


def build_kto(dpo: pl.DataFrame) -> pl.DataFrame:
    """TRL's unpaired format, conversational like the pairs: each pair gives a desirable (True) and an
    undesirable (False) row, `prompt` the user's messages and `completion` the assistant's answer, in
    `interleaved_order`. `preference_source` says who decided which answer won, as in the pairs."""
    columns = {"prompt": pl.col("prompt"), "preference_source": pl.col("preference_source")}
    rows = pl.concat(
        [
            dpo.select("id", completion=pl.col("chosen"), label=pl.lit(True), **columns),
            dpo.select("id", completion=pl.col("rejected"), label=pl.lit(False), **columns),
        ]
    )
    order = interleaved_order(dpo["id"].to_list())
    position = pl.DataFrame(
        {"id": [i for i, _ in order], "label": [label for _, label in order], "position": range(len(order))},
        schema={"id": pl.String, "label": pl.Boolean, "position": pl.Int64},
    )
    return rows.join(position, on=["id", "label"]).sort("position").select(KTO_COLUMNS)


def kl_partners(rows: int, batch_size: int) -> list[int]:
    """For each row, the row whose completion TRL's KTOTrainer pairs it with for the KL term.

    Mirrors `add_kl_completion_ids` in `trl/trainer/kto_trainer.py` (TRL 1.16), mapped with
    `batched=True, batch_size=per_device_train_batch_size`: within each chunk `[s, e)` row `s` gets row
    `e - 1`'s completion and every other row its predecessor's; a one-row chunk gets its own. TRL does
    this after dropping rows whose prompt alone reaches `max_length`; dropped rows shift the chunks.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    partners: list[int] = []
    for start in range(0, rows, batch_size):
        end = min(start + batch_size, rows)
        partners += [end - 1, *range(start, end - 1)]
    return partners


def same_prompt_kl_pairs(prompt_ids: Sequence[str], batch_size: int) -> int:
    """How many rows KTOTrainer would give a KL completion answering their own prompt (row order as given)."""
    return sum(
        prompt_ids[row] == prompt_ids[partner]
        for row, partner in enumerate(kl_partners(len(prompt_ids), batch_size))
    )
