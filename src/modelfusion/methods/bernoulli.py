"""Bernoulli keep masks from 16-bit lanes of a torch.Generator's 64-bit draws (DARE, DELLA).

With U = (L + V) / 2^16, L uniform on {0, ..., 2^16 - 1} and V ~ U[0, 1) (float64), U is uniform on [0, 1) and

    m = [U < p] = [L < T] or ([L = T] and [V < f]),   T = floor(2^16 p),  f = 2^16 p - T

so P(m = 1) = p exactly (to float64). V is drawn only for the lanes equal to T, one in 2^16. One mt19937 step
gives 32 random bits; `torch.rand(...) < p` spends one step and a float conversion on each entry, a full-range
int64 draw fills four lanes: 1.5 to 2.4 ns per entry against 4.2 here (p = 0.5 and 0.3, 256K entries). Lanes are
compared as signed int16 (L - 2^15 against T - 2^15) in place, and the mask is float32 0 / 1: multiplying a
task vector by a float mask is about 8x cheaper than by a bool one.
"""

from __future__ import annotations

import math

import torch

LANE_BITS = 16
LANE = 1 << LANE_BITS
LANES_PER_DRAW = 64 // LANE_BITS


def split_probability(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(T - 2^15 as int16, f as float64) for probabilities p in (0, 1): keep when L < T, or L = T and V < f."""
    steps = p.to(torch.float64) * LANE
    whole = steps.floor().clamp_(0, LANE - 1)
    return (whole - LANE // 2).to(torch.int16), steps - whole


def bernoulli_mask(
    shape: torch.Size | tuple[int, ...],
    p: float | torch.Tensor,
    generator: torch.Generator | None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """A float32 tensor of `shape` on `device` holding 1 with probability p and 0 otherwise. p is a float, or a
    float tensor broadcasting to `shape` with entries in (0, 1); a float p <= 0 gives all 0 and p >= 1 all 1
    without drawing. The mask is drawn on the generator's device (the engine's is always the CPU, so a seed gives
    the same mask on every device) and then moved to `device`."""
    target = torch.device(device)
    if not isinstance(p, torch.Tensor) and (p <= 0 or p >= 1):
        return torch.full(shape, float(p >= 1), dtype=torch.float32, device=target)
    device = generator.device if generator is not None else target
    threshold, fraction = split_probability(torch.as_tensor(p, dtype=torch.float64, device=device))
    numel = math.prod(shape)
    words = torch.empty(-(-numel // LANES_PER_DRAW), dtype=torch.int64, device=device)
    words.random_(-(1 << 63), None, generator=generator)  # the full 64-bit range
    lanes = words.view(torch.int16)[:numel].view(shape)
    scalar = threshold.dim() == 0
    if scalar:
        threshold, fraction = int(threshold), float(fraction)
        if fraction == 0:  # 2^16 p is whole (p = 0.5, 0.25, ...): lanes equal to T are dropped, no V needed
            return lanes.lt_(threshold).to(device=target, dtype=torch.float32)
    # Lanes equal to T, found before the comparison overwrites them: 0 / 1 int16, searched as int64 words at a
    # quarter of the cost (the padding lanes are zero).
    boundary = torch.zeros(words.numel() * LANES_PER_DRAW, dtype=torch.int16, device=device)
    torch.eq(lanes, threshold, out=boundary[:numel].view(shape))
    mask = lanes.lt_(threshold).to(torch.float32)
    hit_words = boundary.view(torch.int64).nonzero().squeeze(1)
    if hit_words.numel():
        candidates = (hit_words[:, None] * LANES_PER_DRAW + torch.arange(LANES_PER_DRAW, device=device)).flatten()
        at = candidates[boundary[candidates] != 0]
        below = fraction if scalar else fraction.expand(shape)[torch.unravel_index(at, shape)]  # no copy of p
        draws = torch.rand(at.numel(), dtype=torch.float64, generator=generator, device=device)
        mask.view(-1)[at] = (draws < below).to(torch.float32)
    return mask.to(target)
