"""The task-vector pipeline shared by task_arithmetic, TIES, DARE, Breadcrumbs, DELLA (and SCE's last step).

    delta_i  = theta_i - theta_base                         (task vector; Ilharco et al. 2022, arXiv:2212.04089)
    delta_i' = m_i delta_i, m_i from a keep rule            (keep_rules.py; * L1 ratio if rescale)
    d_i      = w_i delta_i'
    m_i      = sign(d_i) == sign(sum_k d_k)                 (consensus, optional; else m_i = 1)
    merged   = sum_i m_i d_i / (sum_i m_i w_i if normalize)  (a zero divisor counts as 1)
    theta    = theta_base + lambda * merged

Each method file composes these in a line or two: `stream_task_vectors` over row blocks (methods/blocks.py),
with `merge_block` for the last three lines.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

from modelfusion.methods.blocks import Block, BlockSource, blocks
from modelfusion.methods.keep_rules import KeepAll, KeepRule
from modelfusion.methods.memory import PASS_CACHE_BYTES
from modelfusion.methods.rank_cut import find_cuts, order_keys

ZERO_DIVISOR = 1e-8
"""|sum of weights| below this is treated as no normalization (divide by 1), as mergekit does."""


def task_vectors(tensors: list[torch.Tensor], base: torch.Tensor | None) -> list[torch.Tensor]:
    """[theta_i - theta_base] for each model."""
    if base is None:
        raise ValueError("this method needs base_model")
    return [t - base for t in tensors]


def combine(deltas: torch.Tensor, weights: torch.Tensor, mask: torch.Tensor | None, *, normalize: bool) -> torch.Tensor:
    """sum_i m_i w_i delta_i, divided by sum_i m_i w_i when `normalize` (the TIES disjoint mean when m is a
    sign-agreement mask; m = 1 when `mask` is None), on a stacked [models, ...] tensor (SCE). `weights`
    broadcasts against `deltas`. The streamed methods use `merge_block`, the same values block by block."""
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


def _sum_in_order(parts: list[torch.Tensor]) -> torch.Tensor:
    total = parts[0].clone() if len(parts) == 1 else parts[0] + parts[1]
    for p in parts[2:]:
        total.add_(p)
    return total


def merge_block(
    deltas: list[torch.Tensor],
    masks: list[torch.Tensor | None],
    weight: list[float],
    scales: list[float | None],
    *,
    consensus: bool,
    normalize: bool,
) -> torch.Tensor:
    """combine() for one block, without stacking, boolean selects or `where` (slow on random masks):

        d_i = m_i s_i w_i delta_i (deltas are consumed in place)
        gamma = copysign(1, sum_i d_i)      (a zero sum counts as +1; -0 only when every d_i is -0)
        a_i = relu(gamma d_i)               (|d_i| where d_i agrees with gamma, else 0)
        merged = gamma sum_i a_i / (sum_i sign(a_i) w_i if normalize; a divisor below 1e-8 counts as 1)

    Without consensus a_i = d_i and the divisor is sum_i w_i. Same values as combine(); only the sign of a zero
    may differ.
    """
    weighted = []
    for d, m, w, s in zip(deltas, masks, weight, scales):
        if m is not None:
            d.mul_(m)
        weighted.append(d.mul_(w if s is None else w * s))
    if not consensus:
        merged = _sum_in_order(weighted)
        if normalize:
            total = torch.tensor(weight, dtype=merged.dtype).sum()
            merged.div_(1.0 if abs(float(total)) < ZERO_DIVISOR else total)
        return merged
    gamma = torch.ones_like(weighted[0]).copysign_(_sum_in_order(weighted))
    aligned = [d.mul_(gamma).relu_() for d in weighted]
    merged = _sum_in_order(aligned).mul_(gamma)
    if normalize:
        merged.div_(_agreeing_weight(aligned, weight))
    return merged


def _agreeing_weight(aligned: list[torch.Tensor], weight: list[float]) -> torch.Tensor:
    """sum_i sign(a_i) w_i (a_i >= 0), with a sum below ZERO_DIVISOR in magnitude replaced by 1.

    When every w_i >= ZERO_DIVISOR, such a sum is 0 and only where every a_i is 0, so the merged numerator is
    +-0 there: clamping the divisor to ZERO_DIVISOR gives the same +-0 in two passes fewer."""
    divisor = aligned[0].sign().mul_(weight[0])
    for a, w in zip(aligned[1:], weight[1:]):
        divisor.add_(a.sign(), alpha=w)  # 0 or w added: exact, as the separate product and sum
    if min(weight) >= ZERO_DIVISOR:
        return divisor.clamp_(min=ZERO_DIVISOR)
    keep = (divisor.abs() >= ZERO_DIVISOR).to(divisor.dtype)  # divisor * 1 + 0, or divisor * 0 + 1: exact
    return divisor.mul_(keep).add_(1.0 - keep)


def _rescale_factors(
    source: BlockSource,
    deltas_of: Callable[[Block], list[torch.Tensor]],
    masks_of: Callable[[Block, list[torch.Tensor]], list[torch.Tensor | None]],
    *,
    compact: bool,
) -> tuple[list[float | None], list[list[torch.Tensor | None]]]:
    """Per model ||delta_i||_1 / ||m_i delta_i||_1 over the whole tensor (mergekit's rescaling; for DARE close to
    the paper's 1 / density, but exact for the draw at hand), None where nothing was dropped or nothing kept;
    and the masks of every block, so the output pass need not draw or rank again (as bool when `compact`)."""
    total: list[float] = []
    kept: list[float] = []
    masked: list[bool] = []
    saved = []
    for block in blocks(source):
        deltas = deltas_of(block)
        masks = masks_of(block, deltas)
        saved.append([m.bool() if compact and m is not None else m for m in masks])
        if not total:
            total, kept, masked = [0.0] * len(deltas), [0.0] * len(deltas), [m is not None for m in masks]
        for i, (d, m) in enumerate(zip(deltas, masks)):
            if m is not None:  # float32 cascade sums per block (relative error ~1e-7), added up in float64
                magnitude = d.abs()
                total[i] += float(magnitude.sum())
                kept[i] += float(magnitude.mul_(m).sum())
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
    """theta_base + lambda * merge_block(sparsify(theta_i - theta_base)), block by block; see the module docstring.

    Passes over the blocks: magnitude windows first (TIES, Breadcrumbs), then the L1 sums and masks when
    `rescale`, then the output. Random masks are drawn from each block's generator in model order.
    """
    if not source.has_base:
        raise ValueError("this method needs base_model")
    if len(weight) != source.models:
        raise ValueError(f"{source.models} models but {len(weight)} weights")
    keep = keep or [KeepAll()] * len(weight)
    windows = [rule.window(source.numel) for rule in keep]
    windowed = any(w is not None for w in windows)
    entry_bytes = 4 + 4 * windowed + 4 * rescale
    keep_between = (windowed or rescale) and source.numel * len(weight) * entry_bytes <= PASS_CACHE_BYTES
    saved_deltas: dict[int, list[torch.Tensor]] = {}
    saved_keys: dict[int, list[torch.Tensor | None]] = {}

    def deltas_of(b: Block) -> list[torch.Tensor]:
        deltas = saved_deltas.get(b.index)
        if deltas is None:
            deltas = task_vectors(b.tensors, b.base)
            if keep_between:
                saved_deltas[b.index] = deltas
        return deltas

    def keys_of(b: Block) -> list[torch.Tensor | None]:
        keys = saved_keys.get(b.index)
        if keys is None:
            keys = [None if w is None else order_keys(d.abs(), w.descending) for d, w in zip(deltas_of(b), windows)]
            if keep_between:
                saved_keys[b.index] = keys
        return keys

    cuts = find_cuts(source, keys_of, windows, source.numel)

    def masks_of(block: Block, deltas: list[torch.Tensor]) -> list[torch.Tensor | None]:
        generator = source.generator(block.index)
        keys = saved_keys.pop(block.index, None)
        return [
            rule.mask(d, c, block.index, generator, None if keys is None else keys[i])
            for i, (rule, d, c) in enumerate(zip(keep, deltas, cuts))
        ]

    if rescale:
        scales, saved = _rescale_factors(source, deltas_of, masks_of, compact=not keep_between)
    else:
        scales, saved = [None] * len(keep), None
    for block in blocks(source):
        deltas = saved_deltas.pop(block.index, None) or task_vectors(block.tensors, block.base)
        if saved is None:
            masks = masks_of(block, deltas)
        else:
            masks, saved[block.index] = saved[block.index], None
        merged = merge_block(deltas, masks, weight, scales, consensus=consensus, normalize=normalize)
        yield (merged if lambda_ == 1.0 else merged.mul_(lambda_)).add_(block.base)
