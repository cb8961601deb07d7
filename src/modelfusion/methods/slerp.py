"""Spherical linear interpolation between two models, tensor by tensor.

Shoemake 1985, "Animating rotation with quaternion curves" (SIGGRAPH); used for model merging by
mergekit (Goddard et al. 2024, arXiv:2403.13257).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from modelfusion.methods.blocks import BlockSource, blocks, whole_tensor

COLINEAR_THRESHOLD = 0.9995
"""|cos(theta)| above this means the two tensors are nearly colinear: interpolate linearly instead."""

NORM_EPS = 1e-8


def slerp_coefficients(aa: float, bb: float, ab: float, t: float) -> tuple[float, float] | None:
    """(s0, s1) with slerp(a, b; t) = s0 a + s1 b, from |a|^2, |b|^2 and <a, b>; None means lerp.

    cos O = <a, b> / (|a| |b|) (a norm below NORM_EPS counts as 1); s0 = sin((1-t) O) / sin O, s1 = sin(t O) / sin O.
    """
    na, nb = math.sqrt(aa), math.sqrt(bb)
    dot = ab / ((na if na > NORM_EPS else 1.0) * (nb if nb > NORM_EPS else 1.0))
    if abs(dot) > COLINEAR_THRESHOLD:
        return None
    theta = math.acos(max(-1.0, min(1.0, dot)))
    sin_theta = math.sin(theta)
    return math.sin((1 - t) * theta) / sin_theta, math.sin(t * theta) / sin_theta


def _dot(x: torch.Tensor, y: torch.Tensor) -> float:
    return float((x * y).sum(dtype=torch.float64))


def slerp_blocks(source: BlockSource, *, t: float) -> Iterator[torch.Tensor]:
    """SLERP from the base model (t = 0) to the other model (t = 1), over row blocks: one pass for |a|^2, |b|^2
    and <a, b> (float64 sums), then the output block by block. Falls back to lerp (1-t) a + t b when
    |cos O| > COLINEAR_THRESHOLD."""
    if not source.has_base or source.models != 1:
        raise ValueError("slerp needs exactly two models: base_model and one other")
    aa = bb = ab = 0.0
    for block in blocks(source):
        a, b = block.base.float(), block.tensors[0].float()
        aa, bb, ab = aa + _dot(a, a), bb + _dot(b, b), ab + _dot(a, b)
    coefficients = slerp_coefficients(aa, bb, ab, t)
    for block in blocks(source):
        a, b = block.base.float(), block.tensors[0].float()
        out = torch.lerp(a, b, t) if coefficients is None else a * coefficients[0] + b * coefficients[1]
        yield out.to(block.base.dtype) if block.base.dtype != torch.float32 else out


slerp = whole_tensor(slerp_blocks)


def slerp_pair(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """slerp(a, b; t) = sin((1-t) O)/sin(O) a + sin(t O)/sin(O) b, with cos O = <a/|a|, b/|b|> (one block)."""
    return slerp([b], base=a, t=t)
