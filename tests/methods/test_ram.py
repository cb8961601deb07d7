"""RAM and RAM+ tensor-local (arXiv:2601.13572; mergekit 0.1.5's `ram`, `ramplus_tl`): values computed by hand."""

import torch

from modelfusion.methods import get_method
from modelfusion.methods.ram import ram, ramplus_tl


def _inputs():
    base = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    d1 = torch.tensor([[0.5, 0.0, 0.2], [1e-6, 0.3, 0.0]])  # 1e-6 is below epsilon: not a change
    d2 = torch.tensor([[0.1, 0.4, 0.0], [0.0, -0.1, 0.0]])
    return base, d1, d2


def test_ram_keeps_unique_changes_and_averages_shared_ones():
    base, d1, d2 = _inputs()
    out = ram([base + d1, base + d2], base=base, epsilon=1e-5)
    expected = base + torch.tensor([[(0.5 + 0.1) / 2, 0.4, 0.2], [0.0, (0.3 - 0.1) / 2, 0.0]])
    torch.testing.assert_close(out, expected)


def test_ramplus_tl_amplifies_unique_changes_by_each_models_shared_ratio():
    base, d1, d2 = _inputs()
    # model 1 changed positions (0,0) (0,2) (1,1): shared 2, unique 1 -> rho 2; model 2: (0,0) (0,1) (1,1): shared 2,
    # unique 1 -> rho 2. lambda = 1 + r * min(rho, alpha)
    r, alpha = 0.1, 0.5
    lam = 1 + r * min(2.0, alpha)
    out = ramplus_tl([base + d1, base + d2], base=base, r=r, alpha=alpha, epsilon=1e-5)
    expected = base + torch.tensor([[(0.5 + 0.1) / 2, 0.4 * lam, 0.2 * lam], [0.0, (0.3 - 0.1) / 2, 0.0]])
    torch.testing.assert_close(out, expected)


def test_ramplus_tl_with_no_unique_change_and_one_model():
    base = torch.zeros(4)
    x = torch.tensor([1.0, 2.0, 0.0, 3.0])
    # one model: every change is unique, nothing shared -> rho 0, lambda 1: the model itself
    torch.testing.assert_close(ramplus_tl([x], base=base, r=0.1, alpha=0.2, epsilon=1e-5), x)
    torch.testing.assert_close(ram([x, x], base=base, epsilon=1e-5), x)


def test_specs_follow_mergekit():
    ram_m, plus = get_method("ram"), get_method("ramplus_tl")
    assert [(p.name, p.default) for p in ram_m.params] == [("epsilon", 1e-5)]
    assert [(p.name, p.default) for p in plus.params] == [("r", 0.1), ("alpha", 0.2), ("epsilon", 1e-5)]
    assert ram_m.base_role == plus.base_role == "separate" and ram_m.elementwise and not plus.elementwise
