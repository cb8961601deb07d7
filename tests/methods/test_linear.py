"""linear: theta = sum_i w_i theta_i / sum_i w_i (normalize) or the plain weighted sum."""

from __future__ import annotations

import pytest
import torch

from modelfusion.methods import get_method
from modelfusion.methods.linear import linear


def _tensors(n: int = 3) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randn(5, 7, generator=g) for _ in range(n)]


def test_equal_weights_give_the_mean():
    ts = _tensors()
    expected = (ts[0] + ts[1] + ts[2]) / 3
    torch.testing.assert_close(linear([t.clone() for t in ts], weight=[1.0, 1.0, 1.0]), expected)


def test_weighted_average_normalized():
    ts = _tensors()
    expected = (0.2 * ts[0] + 0.3 * ts[1] + 1.5 * ts[2]) / 2.0
    torch.testing.assert_close(linear(ts, weight=[0.2, 0.3, 1.5]), expected, atol=1e-6, rtol=1e-6)


def test_unnormalized_weighted_sum():
    ts = _tensors(2)
    expected = 0.5 * ts[0] - 2.0 * ts[1]
    torch.testing.assert_close(linear(ts, weight=[0.5, -2.0], normalize=False), expected, atol=1e-6, rtol=1e-6)


def test_inputs_are_not_modified():
    ts = _tensors()
    before = [t.clone() for t in ts]
    linear(ts, weight=[1.0, 2.0, 3.0])
    for t, b in zip(ts, before):
        assert torch.equal(t, b)


def test_zero_weight_sum_cannot_normalize():
    with pytest.raises(ValueError, match="sum to zero"):
        linear(_tensors(2), weight=[1.0, -1.0])


def test_registered_spec():
    m = get_method("linear")
    weight, normalize = m.param("weight"), m.param("normalize")
    assert weight.per_model and weight.default == 1.0
    assert normalize.default is True and not normalize.per_model
    assert m.base_role == "none" and m.min_models == 1
