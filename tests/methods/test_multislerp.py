import torch

from modelfusion.methods import get_method
from modelfusion.methods.multislerp import multislerp


def test_normalized_mean_direction_times_mean_norm():
    a, b = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 4.0])
    out = multislerp([a, b], base=None, weight=[1.0, 1.0], normalize_weights=True, eps=1e-8)
    # unit directions (1,0) and (0,1): mean direction (1,1)/sqrt2; mean norm 3
    torch.testing.assert_close(out, torch.tensor([3.0, 3.0]) / 2**0.5)


def test_weights_and_base():
    base = torch.tensor([1.0, 1.0, 1.0])
    xs = [base + torch.tensor([3.0, 0.0, 0.0]), base + torch.tensor([0.0, 0.0, 1.0])]
    out = multislerp(xs, base=base, weight=[1.0, 3.0], normalize_weights=False, eps=1e-8)
    m = 1.0 * torch.tensor([1.0, 0.0, 0.0]) + 3.0 * torch.tensor([0.0, 0.0, 1.0])
    expected = base + m / m.norm() * (1.0 * 3.0 + 3.0 * 1.0)
    torch.testing.assert_close(out, expected)


def test_single_model_is_unchanged():
    x = torch.randn(4, 3)
    torch.testing.assert_close(multislerp([x], base=None, weight=[2.0], normalize_weights=True, eps=1e-8), x)


def test_spec():
    m = get_method("multislerp")
    assert m.param("eps").default == 1e-8 and m.param("normalize_weights").default is True
