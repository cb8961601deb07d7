"""Spherical linear interpolation between two models, tensor by tensor.

Shoemake 1985, "Animating rotation with quaternion curves" (SIGGRAPH); used for model merging by
mergekit (Goddard et al. 2024, arXiv:2403.13257).
"""

from __future__ import annotations

import torch

from modelfusion.methods.registry import register
from modelfusion.methods.spec import MergeMethod, ParamSpec

COLINEAR_THRESHOLD = 0.9995
"""|cos(theta)| above this means the two tensors are nearly colinear: interpolate linearly instead."""

NORM_EPS = 1e-8


def slerp_pair(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """slerp(a, b; t) = sin((1-t) O)/sin(O) a + sin(t O)/sin(O) b, with cos O = <a/|a|, b/|b|>.

    Falls back to lerp (1-t) a + t b when |cos O| > COLINEAR_THRESHOLD. t = 0 gives a, t = 1 gives b.
    """
    a32, b32 = a.float(), b.float()
    na, nb = a32.norm(), b32.norm()
    ua = a32 / na if na > NORM_EPS else a32
    ub = b32 / nb if nb > NORM_EPS else b32
    dot = float((ua * ub).sum())
    if abs(dot) > COLINEAR_THRESHOLD:
        out = torch.lerp(a32, b32, t)
    else:
        theta = torch.arccos(torch.tensor(dot, dtype=torch.float64))
        sin_theta = torch.sin(theta)
        s0 = float(torch.sin((1 - t) * theta) / sin_theta)
        s1 = float(torch.sin(t * theta) / sin_theta)
        out = a32 * s0 + b32 * s1
    return out.to(a.dtype) if a.dtype != torch.float32 else out


def slerp(tensors: list[torch.Tensor], *, t: float, base: torch.Tensor | None) -> torch.Tensor:
    """SLERP from the base model (t = 0) to the other model (t = 1)."""
    if base is None or len(tensors) != 1:
        raise ValueError("slerp needs exactly two models: base_model and one other")
    return slerp_pair(base, tensors[0], t)


SLERP = register(
    MergeMethod(
        name="slerp",
        fn=slerp,
        params=(ParamSpec("t", float, required=True, low=0.0, high=1.0, help="0 = base model, 1 = other model"),),
        base_role="separate",
        min_models=1,
        max_models=1,
        summary="Spherical interpolation between exactly two models (lerp when nearly colinear).",
        paper="Shoemake 1985; mergekit, Goddard et al. 2024, arXiv:2403.13257",
    )
)
