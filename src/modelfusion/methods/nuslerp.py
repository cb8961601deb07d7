"""NuSLERP: SLERP between two models (or their task vectors) with weights, whole-tensor or per row/column.

Spherical interpolation after Shoemake 1985; the weighted, task-vector and row-wise forms are mergekit's
`nuslerp` (Goddard et al. 2024, arXiv:2403.13257).
"""

from __future__ import annotations

import torch

EPS = 1e-8
ZERO_SUM = 1e-6
"""Weights summing to less than this in magnitude interpolate half-way (mergekit's rule)."""


def slerp_along(v0: torch.Tensor, v1: torch.Tensor, t: float, dim: int) -> torch.Tensor:
    """slerp(v0, v1; t) = [sin((1-t) O) v0 + sin(t O) v1] / sin O for each vector along `dim`,
    cos O = <v0/|v0|, v1/|v1|>; lerp (1-t) v0 + t v1 where sin O is ~0 (colinear)."""
    u0 = v0 / v0.norm(dim=dim, keepdim=True).clamp_min(EPS)
    u1 = v1 / v1.norm(dim=dim, keepdim=True).clamp_min(EPS)
    cos = (u0 * u1).sum(dim=dim, keepdim=True).clamp(-1, 1)
    theta = torch.arccos(cos)
    sin = torch.sin(theta)
    colinear = sin.abs() < EPS
    safe = torch.where(colinear, torch.ones_like(sin), sin)
    out = (torch.sin((1 - t) * theta) * v0 + torch.sin(t * theta) * v1) / safe
    return torch.where(colinear, (1 - t) * v0 + t * v1, out)


def nuslerp(
    tensors: list[torch.Tensor],
    *,
    base: torch.Tensor | None,
    weight: list[float],
    nuslerp_flatten: bool,
    nuslerp_row_wise: bool,
) -> torch.Tensor:
    """t = w_2 / (w_1 + w_2), or t = 1/2 when |w_1 + w_2| < 1e-6 (as mergekit 0.1.5);
    theta = slerp(theta_1, theta_2; t), or with a base theta = base + slerp(theta_1 - base, theta_2 - base; t).
    Flattened (one angle per tensor) by default; else one angle per vector along the last dimension, or
    (nuslerp_row_wise, mergekit's naming) along the first."""
    if len(tensors) != 2:
        raise ValueError(f"nuslerp takes exactly two models besides the base, got {len(tensors)}")
    total = weight[0] + weight[1]
    t = 0.5 if abs(total) < ZERO_SUM else weight[1] / total
    v0, v1 = tensors if base is None else (tensors[0] - base, tensors[1] - base)
    if nuslerp_flatten or v0.dim() < 2:
        out = slerp_along(v0.flatten(), v1.flatten(), t, 0).reshape(v0.shape)
    else:
        out = slerp_along(v0, v1, t, 0 if nuslerp_row_wise else -1)
    return out if base is None else base + out
