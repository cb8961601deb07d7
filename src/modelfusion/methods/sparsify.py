"""Sparsification of task vectors: which entries of a delta survive, and how the survivors are rescaled.

Each function takes one task vector `delta` (any shape) and returns a new tensor of the same shape. Magnitude
selections use `torch.kthvalue` (a selection, O(n)), never a full sort. Counts follow mergekit: with n entries,
`k = floor(density * n)` are kept.
"""

from __future__ import annotations

import math

import torch


def keep_count(density: float, n: int) -> int:
    """floor(density * n), clipped to [0, n]."""
    return max(0, min(n, int(density * n)))


def rank_window(values: torch.Tensor, low: int, high: int) -> torch.Tensor:
    """Mask of the entries whose rank lies in [low, high), ranking by ascending value with ties broken by
    position (a stable sort's order), computed by selection: two kthvalue calls, then the entries equal to a
    boundary value are admitted in index order. O(n), no sort."""
    n = values.numel()
    low, high = max(0, low), min(n, high)
    if high <= low:
        return torch.zeros_like(values, dtype=torch.bool)
    if low == 0 and high == n:
        return torch.ones_like(values, dtype=torch.bool)
    flat = values.flatten()
    last = flat.kthvalue(high).values
    if low == 0:  # no lower boundary (TIES keeps the top k): one selection instead of two
        mask = flat < last
        boundaries = {float(last)}
    else:
        first = flat.kthvalue(low + 1).values
        mask = (flat > first) & (flat < last)
        boundaries = {float(first), float(last)}
    for boundary in boundaries:
        tied = (flat == boundary).nonzero().squeeze(1)  # positions in index order; memory ~ number of ties
        rank = int((flat < boundary).sum()) + torch.arange(len(tied), device=flat.device)
        mask[tied[(rank >= low) & (rank < high)]] = True
    return mask.view(values.shape)


def magnitude_mask(delta: torch.Tensor, density: float) -> torch.Tensor:
    """Keep the k = floor(density * n) entries of largest |delta| (TIES "trim", Yadav et al. 2023).

    Ranks by descending |delta|, equal magnitudes in index order (mergekit keeps the earlier one too).
    """
    return rank_window(-delta.abs(), 0, keep_count(density, delta.numel()))


def outlier_mask(delta: torch.Tensor, density: float, gamma: float) -> torch.Tensor:
    """Model Breadcrumbs mask (Davari & Belilovsky 2023): drop the largest and the smallest magnitudes.

    With n entries, kept = floor(density n) and top = min(floor(gamma n), n - kept): the `top` largest |delta|
    are dropped, then the n - kept - top smallest, so the ascending ranks [n - top - kept, n - top) survive.
    """
    n = delta.numel()
    kept = keep_count(density, n)
    top = min(keep_count(gamma, n), n - kept)
    return rank_window(delta.abs(), n - top - kept, n - top)


def random_mask(delta: torch.Tensor, density: float, generator: torch.Generator | None) -> torch.Tensor:
    """DARE drop (Yu et al. 2023): keep each entry independently with probability `density`."""
    if density >= 1:
        return torch.ones_like(delta, dtype=torch.bool)
    probs = torch.full_like(delta, density, dtype=torch.float32)
    return torch.bernoulli(probs, generator=generator).bool()


def rank_keep_probabilities(delta: torch.Tensor, density: float, epsilon: float) -> torch.Tensor:
    """DELLA MagPrune probabilities (Deep et al. 2024), row by row (the last dimension).

    Within a row of m entries, rank r = 0 .. m-1 by ascending |delta|; p_r = density - epsilon + 2 epsilon r/(m-1),
    so the smallest magnitude is kept with probability density - epsilon and the largest with density + epsilon.
    Ranks need an order, so this is one argsort per row (the only sort in the task-vector family).
    """
    if delta.dim() == 0:
        return torch.full_like(delta, density, dtype=torch.float32)
    rows = delta.reshape(-1, delta.shape[-1]).abs()
    m = rows.shape[-1]
    order = rows.argsort(dim=-1)
    ranks = torch.empty_like(order)
    ranks.scatter_(-1, order, torch.arange(m, device=delta.device).expand_as(order).contiguous())
    step = 2 * epsilon / (m - 1) if m > 1 else 0.0
    probs = (density - epsilon) + ranks.to(torch.float32) * step
    return probs.reshape(delta.shape)


def della_range_problem(density: float, epsilon: float) -> str | None:
    """DELLA needs 0 < density - epsilon and density + epsilon < 1 (unless density >= 1: nothing dropped)."""
    if density < 1 and not (density - epsilon > 0 and density + epsilon < 1):
        return (
            f"della: density - epsilon and density + epsilon must lie in (0, 1), got density={density}, "
            f"epsilon={epsilon}; lower epsilon"
        )
    return None


def rank_sampled_mask(
    delta: torch.Tensor, density: float, epsilon: float, generator: torch.Generator | None
) -> torch.Tensor:
    """Keep entry j with probability p_j from `rank_keep_probabilities` (one Bernoulli draw each)."""
    if density >= 1:
        return torch.ones_like(delta, dtype=torch.bool)
    if problem := della_range_problem(density, epsilon):
        raise ValueError(problem)
    return torch.bernoulli(rank_keep_probabilities(delta, density, epsilon), generator=generator).bool()


def apply_mask(delta: torch.Tensor, mask: torch.Tensor, rescale: bool) -> torch.Tensor:
    """delta * mask, times ||delta||_1 / ||delta * mask||_1 when `rescale` (mergekit's rescaling).

    The L1 ratio keeps the task vector's total magnitude; for DARE it is close to the paper's 1 / density
    (Yu et al. 2023), but exact for the draw at hand. An all-zero survivor set gives zeros.
    """
    kept = delta * mask
    if not rescale:
        return kept
    kept_l1 = float(kept.abs().sum(dtype=torch.float64))
    if kept_l1 == 0 or not math.isfinite(kept_l1):
        return kept
    return kept * (float(delta.abs().sum(dtype=torch.float64)) / kept_l1)
