"""The task-vector pipeline shared by task_arithmetic, TIES, DARE, Breadcrumbs, DELLA (and SCE's last step).

    delta_i  = theta_i - theta_base                         (task vector; Ilharco et al. 2022, arXiv:2212.04089)
    delta_i' = sparsify(delta_i)                            (sparsify.py, optional)
    d_i      = w_i delta_i'
    m_i      = sign(d_i) == sign(sum_k d_k)                 (consensus.py, optional; else m_i = 1)
    merged   = sum_i m_i d_i / (sum_i m_i w_i if normalize)  (a zero divisor counts as 1)
    theta    = theta_base + lambda * merged

Each method file composes these in a line or two.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from modelfusion.methods.consensus import agreement_mask
from modelfusion.methods.spec import ParamSpec

Sparsifier = Callable[["torch.Tensor", int], "torch.Tensor"]
"""(delta of model i, i) -> sparsified delta."""

ZERO_DIVISOR = 1e-8
"""|sum of weights| below this is treated as no normalization (divide by 1), as mergekit does."""


def task_vectors(tensors: list[torch.Tensor], base: torch.Tensor | None) -> torch.Tensor:
    """Stack [theta_i - theta_base] into one [models, ...] tensor."""
    if base is None:
        raise ValueError("this method needs base_model")
    return torch.stack([t - base for t in tensors])


def weights_like(weight: list[float], deltas: torch.Tensor) -> torch.Tensor:
    """The per-model weights shaped to broadcast against a [models, ...] stack."""
    if len(weight) != deltas.shape[0]:
        raise ValueError(f"{deltas.shape[0]} models but {len(weight)} weights")
    return torch.tensor(weight, dtype=deltas.dtype, device=deltas.device).view(-1, *([1] * (deltas.dim() - 1)))


def combine(deltas: torch.Tensor, weights: torch.Tensor, mask: torch.Tensor | None, *, normalize: bool) -> torch.Tensor:
    """sum_i m_i w_i delta_i, divided by sum_i m_i w_i when `normalize` (the TIES disjoint mean when m is a
    sign-agreement mask; m = 1 when `mask` is None). `weights` broadcasts against `deltas`."""
    weighted = deltas * weights
    if mask is not None:
        weighted = weighted * mask
        divisor = (weights * mask).sum(dim=0)
    else:
        divisor = weights.expand_as(deltas).sum(dim=0)
    merged = weighted.sum(dim=0)
    if normalize:
        divisor = torch.where(divisor.abs() < ZERO_DIVISOR, torch.ones_like(divisor), divisor)
        merged = merged / divisor
    return merged


def merge_task_vectors(
    tensors: list[torch.Tensor],
    base: torch.Tensor | None,
    weight: list[float],
    *,
    sparsifier: Sparsifier | None,
    consensus: bool,
    normalize: bool,
    lambda_: float,
) -> torch.Tensor:
    """theta_base + lambda * combine(sparsify(theta_i - theta_base)); see the module docstring."""
    deltas = task_vectors(tensors, base)
    if sparsifier is not None:
        deltas = torch.stack([sparsifier(d, i) for i, d in enumerate(deltas)])
    weights = weights_like(weight, deltas)
    mask = agreement_mask(deltas * weights) if consensus else None
    merged = combine(deltas, weights, mask, normalize=normalize)
    return base + lambda_ * merged


def task_vector_params(*, normalize: bool, rescale: bool, extra: tuple[ParamSpec, ...] = ()) -> tuple[ParamSpec, ...]:
    """The parameters every task-vector method takes, with mergekit's names, defaults and scopes."""
    return (
        ParamSpec("weight", float, required=True, per_model=True, help="weight of the model's task vector"),
        ParamSpec("density", float, default=1.0, low=0.0, high=1.0, per_model=True, help="fraction of entries kept"),
        *extra,
        ParamSpec("normalize", bool, default=normalize, help="divide by the sum of the (agreeing) weights"),
        ParamSpec("rescale", bool, default=rescale, help="rescale survivors to the task vector's L1 norm"),
        ParamSpec("lambda", float, default=1.0, arg="lambda_", help="scale of the merged task vector"),
        ParamSpec("int8_mask", bool, default=False, help="accepted for mergekit compatibility; masks are bool"),
    )
