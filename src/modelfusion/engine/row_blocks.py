"""The engine's block source: one job's inputs read and widened to the compute dtype one row block at a time."""

from __future__ import annotations

from collections.abc import Callable

import torch

from modelfusion.methods.blocks import Block

RowReader = Callable[["slice | None"], torch.Tensor]
"""(rows of the first dimension, or None for the whole tensor) -> those rows as stored."""


class RowBlocks:
    """Row blocks of about `block_elements` entries over the first dimension of every input (all of `shape`).

    Tensors with fewer than two dimensions stay one block unless `split_vectors` (elementwise methods), since
    a streamed method may treat a vector as one row. `seed_of(i)` seeds block i's generator (None: no random).
    """

    def __init__(
        self,
        readers: list[RowReader],
        base: RowReader | None,
        shape: tuple[int, ...],
        widen: Callable[[torch.Tensor], torch.Tensor],
        block_elements: int,
        *,
        split_vectors: bool = False,
        seed_of: Callable[[int], int] | None = None,
        device: torch.device | None = None,
    ):
        self._readers, self._base, self._widen, self._seed_of = readers, base, widen, seed_of
        self.models, self.has_base = len(readers), base is not None
        self._device = device or torch.device("cpu")
        self.numel = 1
        for n in shape:
            self.numel *= n
        splittable = len(shape) >= 2 or (split_vectors and len(shape) == 1)
        if splittable and shape[0] > 0:
            self._rows = max(1, block_elements // max(1, self.numel // shape[0]))
            self.count = -(-shape[0] // self._rows)
        else:
            self._rows, self.count = None, 1

    @classmethod
    def of_tensors(
        cls, tensors: list[torch.Tensor], base: torch.Tensor | None, widen, block_elements: int, **kwargs
    ) -> RowBlocks:
        """Blocks of tensors already in memory."""

        def reader(t: torch.Tensor) -> RowReader:
            return lambda rows: t if rows is None else t[rows]

        first = base if base is not None else tensors[0]
        return cls(
            [reader(t) for t in tensors],
            None if base is None else reader(base),
            tuple(first.shape),
            widen,
            block_elements,
            device=first.device,
            **kwargs,
        )

    def rows(self, index: int) -> slice | None:
        """The output rows that block `index` covers (None: the whole tensor)."""
        return None if self._rows is None else slice(index * self._rows, (index + 1) * self._rows)

    def block(self, index: int) -> Block:
        rows = self.rows(index)
        base = self._base
        return Block(
            index,
            lambda: [self._widen(read(rows)) for read in self._readers],
            lambda: None if base is None else self._widen(base(rows)),
        )

    def generator(self, index: int) -> torch.Generator | None:
        if self._seed_of is None:
            return None
        generator = torch.Generator()  # on the CPU whatever the device: a seed draws the same masks everywhere
        generator.manual_seed(self._seed_of(index))
        return generator
