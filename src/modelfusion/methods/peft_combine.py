"""PEFT's task-tensor combinations (`peft.utils.merge_utils`, PEFT 0.21), as used by `add_weighted_adapter`.

With tensors t_i (LoRA factors, or full updates Delta W_i) and weights w_i:

    linear            sum_i w_i t_i                                   (task arithmetic, Ilharco et al. 2022)
    magnitude_prune   sum_i w_i trim(t_i)
    ties              sum_i m_i w_i trim(t_i) / max(1, sum_i m_i)       (Yadav et al. 2023, TIES-Merging)
    dare_linear       sum_i w_i drop(t_i)                               (Yu et al. 2023, DARE)
    dare_ties         sum_i m_i w_i drop(t_i) / max(1, sum_i m_i)

    trim(t)  keeps the k = floor(density n) entries of largest |t| (torch.topk), zeroes the rest
    drop(t)  keeps each entry with probability density (torch.bernoulli), divides the kept ones by density
    m_i      = [sign(t_i') == gamma],  gamma = sign(sum_i t_i') with 0 counted as +1 ("total"), or
               gamma = sign(sum_i sign(t_i')) ("frequency"), t_i' the pruned, *unweighted* tensors

PEFT's conventions differ from the recipe methods (`ties`, `dare_*` of methods/task_vectors.py, which follow
mergekit) in three ways, which is why these few lines exist beside them: the sign is elected on the unweighted
pruned tensors, the disjoint mean divides by the number of agreeing entries (not by the sum of their weights),
and density >= 1 keeps everything without rescaling. The random drop uses torch.bernoulli on the generator given,
so a generator seeded like PEFT's global one after the adapter's creation draws PEFT's masks exactly.
"""

from __future__ import annotations

from typing import Literal

import torch

from modelfusion.methods.consensus import agreement_mask
from modelfusion.methods.keep_rules import keep_count

Combination = Literal["linear", "ties", "dare_linear", "dare_ties", "magnitude_prune"]
COMBINATIONS: tuple[str, ...] = ("linear", "ties", "dare_linear", "dare_ties", "magnitude_prune")
SignMethod = Literal["total", "frequency"]


def trim(t: torch.Tensor, density: float) -> torch.Tensor:
    """t with all but its floor(density n) largest-magnitude entries zeroed (density >= 1: t unchanged)."""
    if density >= 1:
        return t
    if density < 0:
        raise ValueError(f"density must be >= 0, got {density}")
    flat = t.reshape(-1)
    mask = torch.zeros_like(flat)
    mask[torch.topk(flat.abs(), k=keep_count(density, flat.numel()), largest=True)[1]] = 1
    return t * mask.reshape(t.shape)


def drop(t: torch.Tensor, density: float, generator: torch.Generator | None) -> torch.Tensor:
    """DARE: t m / density with m_j ~ Bernoulli(density) (density >= 1: t unchanged)."""
    if density >= 1:
        return t
    if density < 0:
        raise ValueError(f"density must be >= 0, got {density}")
    mask = torch.bernoulli(torch.full_like(t, density), generator=generator)
    return t * mask / density


def majority_mask(stacked: torch.Tensor, method: SignMethod) -> torch.Tensor:
    """m_i = [sign(t_i) == gamma] on stacked [models, ...] tensors; zero entries never agree."""
    if method == "total":
        return agreement_mask(stacked)
    if method == "frequency":
        return agreement_mask(stacked.sign())
    raise ValueError(f"majority_sign_method must be 'total' or 'frequency', got {method!r}")


def combine(
    kind: str,
    tensors: list[torch.Tensor],
    weights: torch.Tensor,
    *,
    density: float | None = None,
    sign_method: SignMethod = "total",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One of COMBINATIONS over `tensors` (same shape) with `weights` (a 1-D tensor, one per tensor)."""
    if kind not in COMBINATIONS:
        raise ValueError(f"unknown combination {kind!r}; one of {', '.join(COMBINATIONS)}")
    if kind != "linear" and density is None:
        raise ValueError(f"combination {kind!r} needs a density")
    if kind in ("ties", "magnitude_prune"):
        tensors = [trim(t, density) for t in tensors]
    elif kind in ("dare_linear", "dare_ties"):
        tensors = [drop(t, density, generator) for t in tensors]
    stacked = torch.stack(tensors, dim=0)
    weighted = stacked * weights.to(stacked.dtype).view(-1, *([1] * (stacked.dim() - 1)))
    if kind not in ("ties", "dare_ties"):
        return weighted.sum(dim=0)
    mask = majority_mask(stacked, sign_method)
    return (weighted * mask).sum(dim=0) / mask.sum(dim=0).clamp(min=1.0)
