"""The NaN / Inf guard on input tensors: checked when each tensor is read, an error unless allowed."""

from __future__ import annotations

import math

import torch

from modelfusion.errors import CheckpointError

_FAST_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def all_finite(t: torch.Tensor) -> bool:
    """True when no element is NaN or ±Inf. One aminmax pass (NaN propagates into min and max), no copy."""
    if not t.is_floating_point() or t.numel() == 0:
        return True
    if t.dtype not in _FAST_DTYPES:
        t = t.float()  # float8 has no aminmax kernel
    lo, hi = torch.aminmax(t)
    return math.isfinite(lo.item()) and math.isfinite(hi.item())  # two scalars: cheaper than two more ops


def check_finite(t: torch.Tensor, tensor: str, where: str) -> torch.Tensor:
    """`t` unchanged, or a CheckpointError naming the tensor and its file."""
    if not all_finite(t):
        raise CheckpointError(
            f"tensor '{tensor}' holds NaN or Inf values (pass --allow-nonfinite, or allow_nonfinite=True "
            "in the API, to merge it anyway)",
            where=where,
        )
    return t
