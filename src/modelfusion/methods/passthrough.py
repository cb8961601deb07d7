"""Passthrough: the single input tensor, optionally scaled (frankenmerge building block; mergekit)."""

from __future__ import annotations

import torch


def passthrough(tensors: list[torch.Tensor], *, scale: list[float | None]) -> torch.Tensor:
    """theta = scale * theta_1 (theta_1 unchanged when scale is not given)."""
    if len(tensors) != 1:
        raise ValueError(f"passthrough takes exactly one model, got {len(tensors)}")
    s = scale[0] if scale else None
    return tensors[0] if s is None else tensors[0] * s
