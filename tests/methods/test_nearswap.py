import torch

from modelfusion.methods import get_method
from modelfusion.methods.nearswap import nearswap


def test_weight_is_t_over_distance_clamped():
    base = torch.tensor([0.0, 0.0, 0.0, 1.0])
    other = torch.tensor([0.1, 1.0, -0.5, 1.0])
    w = torch.tensor([1.0, 0.2, 0.4, 1.0])  # t = 0.2: 0.2/0.1 -> 1, 0.2/1, 0.2/0.5, equal -> 1
    torch.testing.assert_close(nearswap([other], base=base, t=0.2), w * other + (1 - w) * base)


def test_t_zero_keeps_the_base_except_where_equal():
    base = torch.tensor([1.0, 2.0])
    other = torch.tensor([1.0, 3.0])
    torch.testing.assert_close(nearswap([other], base=base, t=0.0), torch.tensor([1.0, 2.0]))


def test_spec():
    m = get_method("nearswap")
    assert m.param("t").required and (m.min_models, m.max_models) == (1, 1)
