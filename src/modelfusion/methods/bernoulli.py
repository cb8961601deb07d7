"""Bernoulli keep masks from 32-bit lanes of a torch.Generator's 64-bit draws (DARE, DELLA).

    m_j = [L_j < T(p_j)],   L_j uniform on {0, ..., 2^32 - 1},   T(p) = round(p 2^32)

so P(m_j = 1) = T(p) / 2^32, within 2^-33 of p (`torch.rand(...) < p` in float32 is within 2^-25). One
mt19937 step gives 32 random bits; a float32 uniform spends one step plus a conversion per entry, while a
full-range int64 draw fills two lanes. Lanes are compared as signed int32 (L - 2^31 < T - 2^31) in place,
and the mask is returned as float32 0 / 1: multiplying by a float mask is about 8x cheaper than by a bool one
(bench/speed/method_blocks.py measures the methods that use it).
"""

from __future__ import annotations

import math

import torch

LANE = 1 << 32
"""Resolution of p: 2^32 steps."""


def _random_lanes(numel: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """numel uniform int32 lanes (all 32 bits random) from ceil(numel / 2) full-range int64 draws."""
    words = torch.empty((numel + 1) // 2, dtype=torch.int64, device=device)
    words.random_(-(1 << 63), None, generator=generator)  # the full 64-bit range
    return words.view(torch.int32)[:numel]


def signed_threshold(p: float) -> int:
    """T(p) - 2^31 for 0 < p < 1: keep a lane L (signed) when L < this."""
    return min(round(p * LANE), LANE - 1) - (LANE >> 1)


def bernoulli_mask(
    shape: torch.Size | tuple[int, ...],
    p: float | torch.Tensor,
    generator: torch.Generator | None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """A float32 tensor of `shape` holding 1 with probability p and 0 otherwise. p is a float, or a float tensor
    broadcasting to `shape` with entries in (0, 1); a float p <= 0 gives all 0 and p >= 1 all 1 without drawing."""
    if not isinstance(p, torch.Tensor):
        if p <= 0 or p >= 1:
            return torch.full(shape, float(p >= 1), dtype=torch.float32, device=device)
        threshold: int | torch.Tensor = signed_threshold(p)
    else:
        steps = (p.to(torch.float64) * LANE).round_().clamp_(1, LANE - 1)
        threshold = (steps - (LANE >> 1)).to(torch.int32)
    lanes = _random_lanes(math.prod(shape), generator, torch.device(device)).view(shape)
    return lanes.lt_(threshold).to(torch.float32)
