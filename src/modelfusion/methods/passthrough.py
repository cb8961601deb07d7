"""Passthrough: the single input tensor, optionally scaled (frankenmerge building block; mergekit)."""

from __future__ import annotations

import torch

from modelfusion.methods.registry import register
from modelfusion.methods.spec import MergeMethod, ParamSpec


def passthrough(tensors: list[torch.Tensor], *, scale: list[float | None]) -> torch.Tensor:
    """theta = scale * theta_1 (theta_1 unchanged when scale is not given)."""
    if len(tensors) != 1:
        raise ValueError(f"passthrough takes exactly one model, got {len(tensors)}")
    s = scale[0] if scale else None
    return tensors[0] if s is None else tensors[0] * s


PASSTHROUGH = register(
    MergeMethod(
        name="passthrough",
        fn=passthrough,
        params=(ParamSpec("scale", float, default=None, per_model=True, help="multiply the tensor by this"),),
        base_role="none",
        min_models=1,
        max_models=1,
        summary="Copy tensors from a single model (layer stacking, frankenmerges), optionally scaled.",
        paper="mergekit, Goddard et al. 2024, arXiv:2403.13257",
    )
)
