"""Per-tensor statistics a merge method consumes (Fisher diagonals, Gram matrices), declared as data.

A recipe gives each model a statistics file (`statistics: path.safetensors`, docs/methods.md); inside it the
statistic `s` of the model's tensor `t` is the entry named `"s:t"` (e.g. `fisher:model.layers.0.mlp.up_proj.weight`).
The plan finds every entry the method needs and checks its shape before any tensor is read; the engine reads
them (cast to the compute dtype) and passes them to the method as one keyword per statistic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StatShape = Literal["same", "input_gram"]
"""- "same": the statistic has the tensor's shape (a Fisher diagonal);
- "input_gram": [in, in] for an [out, in] weight (the Gram matrix X^T X of a linear layer's inputs)."""

AppliesTo = Literal["all", "matrix"]
"""Which tensors the statistic is defined for: every merged tensor, or 2-D ones only."""

WhenMissing = Literal["error", "fallback"]
"""A tensor it applies to without the entry: a plan-time error, or the method's fallback (the keyword is None).
With "fallback" the entry must still be present for every model or for none."""


def entry_name(statistic: str, tensor: str) -> str:
    """The name of statistic `statistic` of tensor `tensor` in a statistics file."""
    return f"{statistic}:{tensor}"


@dataclass(frozen=True)
class StatisticSpec:
    """One statistic a method consumes, per input model."""

    name: str
    shape: StatShape = "same"
    applies_to: AppliesTo = "all"
    missing: WhenMissing = "error"
    fallback: str = ""
    """What the method does for tensors the statistic does not cover (for docs and `modelfusion methods`)."""
    help: str = ""

    def applies(self, shape: tuple[int, ...]) -> bool:
        return self.applies_to == "all" or len(shape) == 2

    def expected_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The statistic's shape for a tensor of `shape` (one it applies to)."""
        if self.shape == "same":
            return tuple(shape)
        return (shape[-1], shape[-1])
