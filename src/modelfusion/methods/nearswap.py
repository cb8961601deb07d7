"""Nearswap: move the base toward the other model only where the two are already close.

From the QuartetAnemoi-70B merge (alchemonaut, Hugging Face, 2024); mergekit's `nearswap`.
"""

from __future__ import annotations

import torch


def nearswap(tensors: list[torch.Tensor], *, base: torch.Tensor | None, t: float) -> torch.Tensor:
    """w_j = clamp(t / |base_j - x_j|, 0, 1) (1 where they are equal); theta = w x + (1 - w) base."""
    if base is None or len(tensors) != 1:
        raise ValueError("nearswap needs base_model and exactly one other model")
    other = tensors[0]
    w = (t / (base - other).abs()).nan_to_num(nan=1.0, posinf=1.0).clamp(0, 1)
    return w * other + (1 - w) * base
