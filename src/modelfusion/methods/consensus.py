"""Sign consensus ("elect"): which task-vector entries agree with the elected sign of their position.

Yadav et al. 2023, TIES-Merging (arXiv:2306.01708), step 2.
"""

from __future__ import annotations

import torch


def elect_sign(deltas: torch.Tensor) -> torch.Tensor:
    """gamma_j = sign(sum_i delta_ij), with a zero sum counted as +1 (mergekit's rule). `deltas`: [models, ...].

    Summing the (weighted) deltas is the paper's "total mass" election: the sign with the larger sum of
    magnitudes wins.
    """
    return torch.where(deltas.sum(dim=0) >= 0, 1.0, -1.0).to(deltas.dtype)


def agreement_mask(deltas: torch.Tensor) -> torch.Tensor:
    """mask_ij = sign(delta_ij) == gamma_j. Zero entries never agree, so they do not count in a disjoint mean.

    Computed as [delta_ij > 0] where gamma_j = +1, else [delta_ij < 0] (no float sign tensors)."""
    return torch.where(deltas.sum(dim=0) >= 0, deltas > 0, deltas < 0)
