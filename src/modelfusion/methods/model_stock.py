"""Model Stock: interpolate between the base and the average of fine-tunes, with a ratio from their angle.

Jang et al. 2024, "Model Stock: all we need is just a few fine-tuned models" (arXiv:2403.19522).
"""

from __future__ import annotations

import itertools

import torch

COS_EPS = 1e-6
"""Floor of |delta_i| |delta_j| in the cosine (mergekit's value; matters only for tiny rows)."""


def _cosine(a: torch.Tensor, b: torch.Tensor, dim: int | None) -> torch.Tensor:
    if dim is None:
        a, b, dim = a.flatten(), b.flatten(), 0
    dot = (a * b).sum(dim=dim, keepdim=True)
    norms = a.norm(dim=dim, keepdim=True) * b.norm(dim=dim, keepdim=True)
    return dot / norms.clamp_min(COS_EPS)


def model_stock(tensors: list[torch.Tensor], *, base: torch.Tensor | None, filter_wise: bool) -> torch.Tensor:
    """cos = mean over pairs i<j of cos(delta_i, delta_j), delta_i = theta_i - theta_base; with N fine-tunes
    t = N cos / (1 + (N - 1) cos), theta = t mean_i theta_i + (1 - t) theta_base. filter_wise: one cos and t per
    row (last dimension) instead of per tensor."""
    if base is None or len(tensors) < 2:
        raise ValueError("model_stock needs base_model and at least two other models")
    deltas = [x - base for x in tensors]
    dim = -1 if filter_wise and base.dim() > 1 else None
    pairs = list(itertools.combinations(deltas, 2))
    cos = torch.stack([_cosine(a, b, dim) for a, b in pairs]).mean(dim=0)
    n = len(tensors)
    t = n * cos / (1 + (n - 1) * cos)
    average = torch.stack(tensors).mean(dim=0)
    return t * average + (1 - t) * base
