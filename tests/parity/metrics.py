"""The numbers the equivalence suite asserts and docs/methods.md reports."""

from __future__ import annotations

import torch

BF16_ULP = 2.0**-7
"""Spacing of bfloat16 numbers in [1, 2): one unit in the last place (ulp) of x is 2^(floor(log2|x|) - 7)."""


def max_abs_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    if set(a) != set(b):
        raise AssertionError(f"tensor names differ: {sorted(set(a) ^ set(b))[:5]}")
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def max_bf16_ulps(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> float:
    """max |ours - theirs| in bf16 ulps of the larger of the two values."""
    worst = 0.0
    for k in theirs:
        a, b = ours[k].double(), theirs[k].double()
        scale = torch.maximum(a.abs(), b.abs()).clamp_min(2.0**-126)
        ulp = torch.pow(2.0, torch.floor(torch.log2(scale))) * BF16_ULP
        worst = max(worst, float(((a - b).abs() / ulp).max()))
    return worst


def as_bf16(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.to(torch.bfloat16) for k, v in tensors.items()}


def kept_fraction(out: dict[str, torch.Tensor], base: dict[str, torch.Tensor]) -> float:
    kept = sum(int((out[k] != base[k]).sum()) for k in base if base[k].is_floating_point())
    return kept / sum(base[k].numel() for k in base if base[k].is_floating_point())


def rescale_error(out: dict[str, torch.Tensor], base: dict[str, torch.Tensor], ft: dict[str, torch.Tensor]) -> float:
    """max over tensors of |(out - base) - delta * ||delta||_1 / ||delta kept||_1| on kept entries, in units of
    float32 rounding of the output (so 'exact' means a few units at most)."""
    worst = 0.0
    for k in base:
        b, o = base[k].double(), out[k].double()
        delta = ft[k].double() - b
        kept = out[k] != base[k]
        if not kept.any():
            continue
        expected = delta * (delta.abs().sum() / delta[kept].abs().sum())
        unit = torch.finfo(torch.float32).eps * torch.maximum(o.abs(), b.abs())
        worst = max(worst, float(((o - b - expected).abs() / unit)[kept].max()))
    return worst


def rank_half_fractions(out: dict[str, torch.Tensor], base: dict[str, torch.Tensor], ft: dict[str, torch.Tensor]):
    """(kept fraction among the larger-magnitude half of each row, among the smaller half), 2-D tensors only."""
    hi = lo = n_hi = n_lo = 0
    for k in base:
        if base[k].dim() != 2:
            continue
        delta = (ft[k] - base[k]).abs()
        kept = out[k] != base[k]
        median = delta.median(dim=-1, keepdim=True).values
        top = delta > median
        hi += int((kept & top).sum())
        lo += int((kept & ~top).sum())
        n_hi += int(top.sum())
        n_lo += int((~top).sum())
    return hi / n_hi, lo / n_lo
