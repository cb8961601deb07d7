"""RAM and RAM+ (tensor-local): task vectors averaged only where several models changed the weight.

Reinforced Agent Merging, arXiv:2601.13572 (mergekit 0.1.5's `ram` and `ramplus_tl`). With
delta_i = theta_i - theta_base and m_ij = [|delta_ij| > epsilon] (model i changed entry j), c_j = sum_i m_ij:

    ram:        theta_j = base_j + sum_i m_ij delta_ij / max(c_j, 1)
                (an entry one model changed keeps that change in full; shared entries are averaged)
    ramplus_tl: the unique entries of model i are scaled by lambda_i = 1 + r * clip(rho_i, 0, alpha),
                rho_i = #{j: m_ij, c_j > 1} / max(#{j: m_ij, c_j = 1}, epsilon), counted over the tensor.
"""

from __future__ import annotations

import torch


def _changes(tensors: list[torch.Tensor], base: torch.Tensor, epsilon: float):
    """(masked deltas [n, ...], change mask m [n, ...], contributor count c [...])."""
    deltas = torch.stack([t - base for t in tensors])
    changed = deltas.abs() > epsilon
    return deltas * changed, changed, changed.sum(dim=0)


def ram(tensors: list[torch.Tensor], *, base: torch.Tensor, epsilon: float) -> torch.Tensor:
    """theta = base + sum_i m_i delta_i / max(c, 1): the mean of the task vectors that changed each entry."""
    deltas, _, count = _changes(tensors, base, epsilon)
    return base + (deltas / count.clamp(min=1)).sum(dim=0)


def ramplus_tl(
    tensors: list[torch.Tensor], *, base: torch.Tensor, r: float, alpha: float, epsilon: float
) -> torch.Tensor:
    """RAM whose entries changed by one model only are amplified per model by lambda_i (module docstring):
    a model that shares much of its change with others gets its unique part reinforced."""
    deltas, changed, count = _changes(tensors, base, epsilon)
    unique = count == 1
    shared_n = (changed & (count > 1)).flatten(1).sum(dim=1).to(torch.float32)
    unique_n = (changed & unique).flatten(1).sum(dim=1).to(torch.float32)
    rho = shared_n / unique_n.clamp(min=epsilon)
    lam = (1 + r * rho.clamp(min=0, max=alpha)).to(deltas.dtype).view(-1, *([1] * (deltas.dim() - 1)))
    amplified = torch.where(unique, deltas * lam, deltas / count.clamp(min=1))
    return base + amplified.sum(dim=0)
