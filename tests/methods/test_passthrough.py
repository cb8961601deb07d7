import torch

from modelfusion.api import merge_state_dicts
from modelfusion.methods import get_method
from modelfusion.methods.passthrough import passthrough


def test_scale_multiplies_and_none_copies():
    x = torch.tensor([[1.0, -2.0], [3.0, 4.0]])
    torch.testing.assert_close(passthrough([x], scale=[0.5]), torch.tensor([[0.5, -1.0], [1.5, 2.0]]))
    assert torch.equal(passthrough([x], scale=[None]), x)


def test_through_the_api_with_a_filter_free_scale():
    sd = {"a.weight": torch.ones(2, 3), "b.bias": torch.full((3,), 2.0)}
    out = merge_state_dicts([sd], "passthrough", scale=[3.0])
    torch.testing.assert_close(out["a.weight"], torch.full((2, 3), 3.0))
    torch.testing.assert_close(out["b.bias"], torch.full((3,), 6.0))


def test_spec():
    m = get_method("passthrough")
    assert (m.min_models, m.max_models) == (1, 1) and m.param("scale").default is None and m.param("scale").per_model
