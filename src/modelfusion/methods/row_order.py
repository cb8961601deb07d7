"""Stable ascending order of each row of integer keys (DELLA's magnitude ranks).

order[r, j] is the column of row r's j-th smallest key, equal keys in column order: `argsort(stable=True)`.
On CPU, int32 keys (float32 magnitudes' bits, `rank_cut.order_keys`) are packed into unique int64 words

    w = key * 2^32 + column

so that any sort of the words is stable, and numpy's SIMD sort (x86-simd-sort) sorts them in place; the low
32 bits of the sorted words are the order. That is about 4x cheaper than torch's stable argsort of the rows on
this project's CPUs (bench/speed/method_blocks.py). Other keys and devices use torch's stable argsort.
"""

from __future__ import annotations

import torch

COLUMN_BITS = 32


def stable_row_order(keys: torch.Tensor) -> torch.Tensor:
    """int64 column indices ordering each row of `keys` (2-D) ascending, ties in column order."""
    columns = keys.shape[-1]
    if keys.device.type != "cpu" or keys.dtype != torch.int32 or columns >= 1 << COLUMN_BITS or keys.numel() == 0:
        return keys.argsort(dim=-1, stable=True)
    words = keys.to(torch.int64).bitwise_left_shift_(COLUMN_BITS)
    words.bitwise_or_(torch.arange(columns, dtype=torch.int64))
    words.numpy().sort(axis=-1)  # in place: the words are unique, so the result is the stable order
    return words.bitwise_and_((1 << COLUMN_BITS) - 1)
