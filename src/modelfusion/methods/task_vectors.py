"""The task-vector pipeline shared by task_arithmetic, TIES, DARE, Breadcrumbs, DELLA (and SCE's last step).

    delta_i  = theta_i - theta_base                         (task vector; Ilharco et al. 2022, arXiv:2212.04089)
    delta_i' = m_i delta_i, m_i from a keep rule            (keep_rules.py; * L1 ratio if rescale)
    d_i      = w_i delta_i'
    m_i      = sign(d_i) == sign(sum_k d_k)                 (consensus.py, optional; else m_i = 1)
    merged   = sum_i m_i d_i / (sum_i m_i w_i if normalize)  (a zero divisor counts as 1)
    theta    = theta_base + lambda * merged

Each method file composes these in a line or two.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

from modelfusion.methods.blocks import Block, BlockSource, blocks
from modelfusion.methods.consensus import agreement_mask
from modelfusion.methods.keep_rules import KeepAll, KeepRule
from modelfusion.methods.rank_cut import find_cuts, order_keys
from modelfusion.methods.spec import ParamSpec

ZERO_DIVISOR = 1e-8
"""|sum of weights| below this is treated as no normalization (divide by 1), as mergekit does."""


def task_vectors(tensors: list[torch.Tensor], base: torch.Tensor | None) -> list[torch.Tensor]:
    """[theta_i - theta_base] for each model."""
    if base is None:
        raise ValueError("this method needs base_model")
    return [t - base for t in tensors]


def weights_like(weight: list[float], deltas: torch.Tensor) -> torch.Tensor:
    """The per-model weights shaped to broadcast against a [models, ...] stack."""
    if len(weight) != deltas.shape[0]:
        raise ValueError(f"{deltas.shape[0]} models but {len(weight)} weights")
    return torch.tensor(weight, dtype=deltas.dtype, device=deltas.device).view(-1, *([1] * (deltas.dim() - 1)))


def combine(
    deltas: torch.Tensor,
    weights: torch.Tensor,
    mask: torch.Tensor | None,
    *,
    normalize: bool,
    weighted: torch.Tensor | None = None,
) -> torch.Tensor:
    """sum_i m_i w_i delta_i, divided by sum_i m_i w_i when `normalize` (the TIES disjoint mean when m is a
    sign-agreement mask; m = 1 when `mask` is None). `weights` broadcasts against `deltas`; `weighted` is
    deltas * weights when the caller has it already."""
    weighted = deltas * weights if weighted is None else weighted
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


def _l1(t: torch.Tensor) -> float:
    return float(t.abs().sum(dtype=torch.float64))


def _rescale_factors(
    source: BlockSource, masks_of: Callable[[Block, list[torch.Tensor]], list[torch.Tensor | None]]
) -> tuple[list[float | None], list[list[torch.Tensor | None]]]:
    """Per model ||delta_i||_1 / ||m_i delta_i||_1 over the whole tensor (mergekit's rescaling; for DARE close to
    the paper's 1 / density, but exact for the draw at hand), None where nothing was dropped or nothing kept;
    and the masks of every block (bool, 1 byte an entry), so the output pass need not draw or rank again."""
    total: list[float] = []
    kept: list[float] = []
    masked: list[bool] = []
    saved = []
    for block in blocks(source):
        deltas = task_vectors(block.tensors, block.base)
        masks = masks_of(block, deltas)
        saved.append(masks)
        if not total:
            total, kept, masked = [0.0] * len(deltas), [0.0] * len(deltas), [m is not None for m in masks]
        for i, (d, m) in enumerate(zip(deltas, masks)):
            if m is not None:
                total[i] += _l1(d)
                kept[i] += _l1(d * m)
    scales = [
        (t / k) if any_mask and k != 0 and math.isfinite(k) else None for t, k, any_mask in zip(total, kept, masked)
    ]
    return scales, saved


def stream_task_vectors(
    source: BlockSource,
    weight: list[float],
    *,
    keep: list[KeepRule] | None,
    consensus: bool,
    normalize: bool,
    lambda_: float,
    rescale: bool = False,
) -> Iterator[torch.Tensor]:
    """theta_base + lambda * combine(sparsify(theta_i - theta_base)), block by block; see the module docstring.

    Passes over the blocks: magnitude windows first (TIES, Breadcrumbs), then the L1 sums and masks when
    `rescale`, then the output. Random masks are drawn from each block's generator in model order.
    """
    if source.block(0).base is None:
        raise ValueError("this method needs base_model")
    keep = keep or [KeepAll()] * len(weight)
    windows = [rule.window(source.numel) for rule in keep]
    cuts = find_cuts(
        source,
        lambda b: [
            None if w is None else order_keys((t - b.base).abs(), w.descending) for t, w in zip(b.tensors, windows)
        ],
        windows,
        source.numel,
    )

    def masks_of(block: Block, deltas: list[torch.Tensor]) -> list[torch.Tensor | None]:
        generator = source.generator(block.index)
        return [rule.mask(d, c, block.index, generator) for rule, d, c in zip(keep, deltas, cuts)]

    scales, saved = _rescale_factors(source, masks_of) if rescale else ([None] * len(keep), None)
    for block in blocks(source):
        deltas = task_vectors(block.tensors, block.base)
        if saved is None:
            masks = masks_of(block, deltas)
        else:
            masks, saved[block.index] = saved[block.index], None
        kept = []
        for d, m, s in zip(deltas, masks, scales):
            k = d if m is None else d * m
            kept.append(k if s is None else k * s)
        stacked = torch.stack(kept)
        weights = weights_like(weight, stacked)
        weighted = stacked * weights
        mask = agreement_mask(weighted) if consensus else None
        yield block.base + lambda_ * combine(stacked, weights, mask, normalize=normalize, weighted=weighted)


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
