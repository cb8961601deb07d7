"""The engine's block source: one job's inputs as stored, widened to the compute dtype one row block at a time."""

from __future__ import annotations

from collections.abc import Callable

import torch

from modelfusion.methods.blocks import Block


class RowBlocks:
    """Row blocks of about `block_elements` entries over the first dimension of every input.

    Tensors with fewer than two dimensions stay one block unless `split_vectors` (elementwise methods), since
    a streamed method may treat a vector as one row. `seed_of(i)` seeds block i's generator (None: no random).
    """

    def __init__(
        self,
        stored: list[torch.Tensor],
        base: torch.Tensor | None,
        widen: Callable[[torch.Tensor], torch.Tensor],
        block_elements: int,
        *,
        split_vectors: bool = False,
        seed_of: Callable[[int], int] | None = None,
        device: torch.device | None = None,
    ):
        first = base if base is not None else stored[0]
        self._stored, self._base, self._widen, self._seed_of = stored, base, widen, seed_of
        self._device = device or first.device
        self.numel = first.numel()
        splittable = first.dim() >= 2 or (split_vectors and first.dim() == 1)
        if splittable and first.shape[0] > 0:
            self._rows = max(1, block_elements // max(1, first.numel() // first.shape[0]))
            self.count = -(-first.shape[0] // self._rows)
        else:
            self._rows, self.count = None, 1

    def block(self, index: int) -> Block:
        rows = self.rows(index)
        part = ... if rows is None else rows  # `...` also indexes a 0-d tensor
        base = None if self._base is None else self._widen(self._base[part])
        return Block(index, [self._widen(t[part]) for t in self._stored], base)

    def rows(self, index: int) -> slice | None:
        """The output rows that block `index` covers (None: the whole tensor)."""
        return None if self._rows is None else slice(index * self._rows, (index + 1) * self._rows)

    def generator(self, index: int) -> torch.Generator | None:
        if self._seed_of is None:
            return None
        generator = torch.Generator(device=self._device)
        generator.manual_seed(self._seed_of(index))
        return generator
