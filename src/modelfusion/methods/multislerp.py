"""Multi-SLERP: a weighted spherical barycentre of any number of models (or task vectors).

Goddard 2025, "Multi-SLERP" (goddard.blog, mergekit's `multislerp`): map the directions to the tangent plane at
their normalized weighted mean, average there, map back, and restore the weighted mean norm. Because the
tangent point is itself the normalized weighted mean, the weighted tangent average is exactly zero and the
result is the closed form below (computed directly: one pass, no trigonometry).
"""

from __future__ import annotations

import torch


def multislerp(
    tensors: list[torch.Tensor],
    *,
    base: torch.Tensor | None,
    weight: list[float],
    normalize_weights: bool,
    eps: float,
) -> torch.Tensor:
    """x_i = theta_i (or theta_i - base when a base is given), flattened; w normalized to sum 1 if asked;
    theta = m / max(|m|, eps) * sum_i w_i |x_i| (+ base), with m = sum_i w_i x_i / max(|x_i|, eps)."""
    if len(weight) != len(tensors):
        raise ValueError(f"multislerp: {len(tensors)} tensors but {len(weight)} weights")
    xs = torch.stack([(t if base is None else t - base).flatten() for t in tensors])
    w = torch.tensor(weight, dtype=xs.dtype, device=xs.device)
    if normalize_weights:
        w = w / w.sum()
    norms = xs.norm(dim=-1)
    mean_direction = (w[:, None] * (xs / norms.clamp_min(eps)[:, None])).sum(dim=0)
    out = mean_direction / mean_direction.norm().clamp_min(eps) * (w * norms).sum()
    out = out.reshape(tensors[0].shape)
    return out if base is None else base + out
