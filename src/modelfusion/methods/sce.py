"""SCE (select, calculate, erase): variance-selected task vectors, weighted by their energy, TIES-merged.

Wan et al. 2024, "FuseChat: knowledge fusion of chat models" (arXiv:2408.07990), section 3.3.
"""

from __future__ import annotations

import torch

from modelfusion.methods.consensus import agreement_mask
from modelfusion.methods.rank_cut import RankWindow, window_mask
from modelfusion.methods.task_vectors import combine, task_vectors


def select_count(var: torch.Tensor, select_topk: float) -> int:
    """k = floor(select_topk * count_nonzero(var)), the product rounded to float32 first (mergekit 0.1.5:
    positions of zero variance are never counted, so k is not floor(select_topk * n) when some are zero);
    every position when select_topk >= 1."""
    if select_topk >= 1:
        return var.numel()
    if select_topk <= 0:
        return 0
    nonzero = torch.count_nonzero(var)
    return int(nonzero.to(torch.float32) * torch.tensor(select_topk, dtype=torch.float32))


def variance_mask(deltas: torch.Tensor, select_topk: float) -> torch.Tensor:
    """Select: keep the k (`select_count`) positions whose variance across the models is largest (ties in index
    order, by selection)."""
    var = deltas.var(dim=0, unbiased=False)
    return window_mask(var, RankWindow(0, select_count(var, select_topk), descending=True))


UNIFORM_BELOW = 1e-6
"""mergekit 0.1.5 uses uniform weights when sum_i mean_j delta_ij^2 is below this (measured as a black box)."""


def energy_weights(deltas: torch.Tensor) -> torch.Tensor:
    """Calculate: w_i = mean_j delta_ij^2 / sum_k mean_j delta_kj^2; uniform when that sum is < 1e-6.

    The floor is mergekit's: it makes SCE a plain TIES-style disjoint mean for tensors whose task vectors are
    small (|delta| ~ 1e-4 per entry, typical of fine-tunes), which modelfusion reproduces for equivalence.
    """
    energy = deltas.pow(2).flatten(1).mean(dim=1)
    total = float(energy.sum())
    if total < UNIFORM_BELOW:
        return torch.full_like(energy, 1.0 / len(energy))
    return energy / total


def sce(tensors: list[torch.Tensor], *, base: torch.Tensor | None, select_topk: float, int8_mask: bool) -> torch.Tensor:
    """delta_i = theta_i - theta_base, masked to the top-variance positions; w_i from `energy_weights`;
    theta = theta_base + sum_i m_i w_i delta_i / sum_i m_i w_i, m the TIES sign-agreement mask of the
    unweighted deltas (erase)."""
    deltas = torch.stack(task_vectors(tensors, base))
    deltas = deltas * variance_mask(deltas, select_topk)
    weights = energy_weights(deltas).view(-1, *([1] * (deltas.dim() - 1)))
    return base + combine(deltas, weights, agreement_mask(deltas), normalize=True)
