"""Arcee Fusion: take the other model's value only where its change from the base is important.

Arcee AI 2025, "Meet MergeKit v0.1: Arcee Fusion" (blog); importance = |change| x KL divergence of the rows'
softmax distributions, kept above a dynamic threshold (median + 1.5 IQR).
"""

from __future__ import annotations

import torch

KL_EPS = 1e-8


def importance(other: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """s_j = |x_j - b_j| * KL(softmax(x) || softmax(b)) of the row (last dimension) holding j."""
    p = torch.softmax(other, dim=-1) + KL_EPS
    q = torch.softmax(base, dim=-1) + KL_EPS
    kl = (p * torch.log(p / q)).sum(dim=-1, keepdim=True)
    return (other - base).abs() * kl


def lower_quantile(flat: torch.Tensor, q: float) -> torch.Tensor:
    """The q-quantile without interpolation (torch.quantile's "lower": sorted[floor(q (n - 1))]), by selection
    (kthvalue): no sort, and no 16M-element limit."""
    return flat.kthvalue(int(q * (flat.numel() - 1)) + 1).values


def dynamic_threshold(scores: torch.Tensor) -> torch.Tensor:
    """median + 1.5 (Q3 - Q1) of the scores, quantiles without interpolation (as mergekit, measured)."""
    flat = scores.flatten()
    q1, median, q3 = (lower_quantile(flat, q) for q in (0.25, 0.5, 0.75))
    return median + 1.5 * (q3 - q1)


def arcee_fusion(tensors: list[torch.Tensor], *, base: torch.Tensor | None) -> torch.Tensor:
    """theta = b + m (x - b), m_j = [importance_j > dynamic_threshold(importance)]."""
    if base is None or len(tensors) != 1:
        raise ValueError("arcee_fusion needs base_model and exactly one other model")
    other = tensors[0]
    scores = importance(other, base)
    mask = scores > dynamic_threshold(scores)
    return base + mask * (other - base)
