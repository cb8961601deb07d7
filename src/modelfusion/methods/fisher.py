"""Fisher merging: each entry averaged with the models' diagonal Fisher information as weights.

Matena & Raffel 2022, "Merging models with Fisher-weighted averaging" (arXiv:2111.09832), eq. (4) with the
per-model scalars lambda_i (`weight`) and the floor their code adds to every Fisher entry.
"""

from __future__ import annotations

import torch

from modelfusion.methods.linear import linear


def fisher(
    tensors: list[torch.Tensor],
    *,
    weight: list[float],
    fisher_floor: float,
    fisher: list[torch.Tensor] | None,
) -> torch.Tensor:
    """theta = sum_i w_i F_i' theta_i / sum_i w_i F_i',  F_i' = F_i + fisher_floor (entrywise).

    Where sum_i w_i F_i' = 0 (every F_i' is 0 there: fisher_floor = 0 and parameters no example moved), and for
    a tensor no model has a Fisher diagonal for (`fisher` None: a buffer, which has no gradient), the plain
    weighted mean sum_i w_i theta_i / sum_i w_i.
    """
    if len(weight) != len(tensors) or (fisher is not None and len(fisher) != len(tensors)):
        raise ValueError(f"fisher: {len(tensors)} tensors need as many weights and Fisher diagonals")
    if fisher is None:
        return _weighted_mean(tensors, weight)
    numerator = torch.zeros_like(tensors[0])
    denominator = torch.zeros_like(tensors[0])
    for w, theta, f in zip(weight, tensors, fisher):
        scaled = (f + fisher_floor) * w
        numerator.add_(scaled * theta)
        denominator.add_(scaled)
    unweighted = denominator == 0
    if not bool(unweighted.any()):
        return numerator.div_(denominator)
    mean = _weighted_mean(tensors, weight)
    return torch.where(unweighted, mean, numerator / torch.where(unweighted, 1.0, denominator))


def _weighted_mean(tensors: list[torch.Tensor], weight: list[float]) -> torch.Tensor:
    """sum_i w_i theta_i / sum_i w_i."""
    total = sum(weight)
    if total == 0:
        raise ValueError("fisher: weights sum to zero where every Fisher entry is zero or missing, cannot average")
    return linear(tensors, weight=weight)
