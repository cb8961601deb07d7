"""slerp: sin((1-t) O)/sin O a + sin(t O)/sin O b with cos O = <a/|a|, b/|b|>; lerp when nearly colinear."""

from __future__ import annotations

import math

import pytest
import torch

from modelfusion.methods import get_method
from modelfusion.methods.slerp import slerp, slerp_pair


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)


def _reference(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    a64, b64 = a.double(), b.double()
    cos = float((a64.flatten() @ b64.flatten()) / (a64.norm() * b64.norm()))
    omega = math.acos(cos)
    return (math.sin((1 - t) * omega) * a64 + math.sin(t * omega) * b64) / math.sin(omega)


@pytest.mark.parametrize("t", [0.0, 0.25, 0.5, 1.0])
def test_matches_the_formula(t):
    a, b = _pair()
    torch.testing.assert_close(slerp_pair(a, b, t).double(), _reference(a, b, t), atol=1e-6, rtol=1e-6)


def test_endpoints_are_the_inputs():
    a, b = _pair()
    torch.testing.assert_close(slerp([b], t=0.0, base=a), a, atol=1e-6, rtol=0)  # t = 0: the base
    torch.testing.assert_close(slerp([b], t=1.0, base=a), b, atol=1e-6, rtol=0)  # t = 1: the other model


def test_half_way_keeps_the_norm_of_equal_norm_inputs():
    a, b = _pair()
    b = b * (a.norm() / b.norm())
    assert float(slerp_pair(a, b, 0.5).norm()) == pytest.approx(float(a.norm()), rel=1e-5)
    assert float(torch.lerp(a, b, 0.5).norm()) < float(a.norm()) * 0.99  # what lerp would lose


@pytest.mark.parametrize("scale", [2.0, -3.0])
def test_colinear_inputs_fall_back_to_lerp(scale):
    a, _ = _pair()
    b = a * scale
    for t in (0.0, 0.3, 1.0):
        torch.testing.assert_close(slerp_pair(a, b, t), (1 - t) * a + t * b, atol=1e-6, rtol=1e-6)
        assert torch.isfinite(slerp_pair(a, b, t)).all()


def test_zero_tensor_does_not_give_nan():
    a, b = _pair()
    assert torch.isfinite(slerp_pair(torch.zeros_like(a), b, 0.5)).all()


def test_needs_exactly_two_models():
    a, b = _pair()
    with pytest.raises(ValueError):
        slerp([a, b], t=0.5, base=a)
    m = get_method("slerp")
    assert m.base_role == "separate" and m.min_models == m.max_models == 1
    t = m.param("t")
    assert t.required and (t.low, t.high) == (0.0, 1.0) and not t.per_model
