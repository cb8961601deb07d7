"""Realigning a vocabulary tensor: output rows gathered from input rows, averaged where several contribute."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

Row = tuple[str, int]
"""(model, row) of an input tensor."""


@dataclass(frozen=True, eq=False)
class Realign:
    """How to build one model's realigned vocabulary tensor from input tensors (rows gathered, summed, averaged).

    out[dst] = sum over pieces (model, dst, src) of T_model[src], divided by `counts` where given; rows no piece
    writes stay 0; rows >= `real` are the mean of rows < `real`.
    """

    size: int
    real: int
    pieces: tuple[tuple[str, torch.Tensor, torch.Tensor], ...]
    counts: torch.Tensor | None
    tensors: Mapping[str, str]
    """model -> the tensor to read for this role (its embedding, or its LM head)."""

    def apply(self, read: Callable[[str, str], torch.Tensor]) -> torch.Tensor:
        out = None
        for model, dst, src in self.pieces:
            t = read(model, self.tensors[model])
            if out is None:
                out = t.new_zeros((self.size, *t.shape[1:]))
            out.index_add_(0, dst.to(t.device), t[src.to(t.device)])
        assert out is not None, "a realignment reads at least one tensor"
        if self.counts is not None:
            out[: self.real] /= self.counts.to(out.device, out.dtype).view(-1, *([1] * (out.dim() - 1)))
        if self.size > self.real:
            out[self.real :] = out[: self.real].mean(0)
        return out


def compile_rows(rows: list[list[Row]], size: int, real: int, tensors: dict[str, str]) -> Realign:
    by_model: dict[str, tuple[list[int], list[int]]] = {}
    counts = []
    for dst, sources in enumerate(rows):
        counts.append(max(len(sources), 1))
        for model, src in sources:
            d, s = by_model.setdefault(model, ([], []))
            d.append(dst)
            s.append(src)
    pieces = tuple(
        (m, torch.tensor(d, dtype=torch.long), torch.tensor(s, dtype=torch.long)) for m, (d, s) in by_model.items()
    )
    count_t = torch.tensor(counts, dtype=torch.float64) if any(c > 1 for c in counts) else None
    return Realign(size, real, pieces, count_t, {m: tensors[m] for m in by_model})
