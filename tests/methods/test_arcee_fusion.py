import torch

from modelfusion.methods import get_method
from modelfusion.methods.arcee_fusion import arcee_fusion, lower_quantile


def test_takes_the_other_model_only_where_importance_is_above_the_fence():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(8, 16, generator=g)
    other = base + 0.05 * torch.randn(8, 16, generator=g)
    p = torch.softmax(other, -1) + 1e-8
    q = torch.softmax(base, -1) + 1e-8
    score = (other - base).abs() * (p * (p / q).log()).sum(-1, keepdim=True)
    q1, med, q3 = torch.quantile(score.flatten(), torch.tensor([0.25, 0.5, 0.75]), interpolation="lower")
    mask = score > med + 1.5 * (q3 - q1)
    assert 0 < int(mask.sum()) < mask.numel()
    torch.testing.assert_close(arcee_fusion([other], base=base), torch.where(mask, other, base))


def test_quantile_by_selection_matches_torch():
    for n in (1000, 1001):
        x = torch.randn(n)
        for q in (0.25, 0.5, 0.75, 0.333):
            torch.testing.assert_close(lower_quantile(x, q), torch.quantile(x, q, interpolation="lower"))


def test_identical_models_give_the_base():
    base = torch.randn(4, 4)
    torch.testing.assert_close(arcee_fusion([base.clone()], base=base), base)


def test_spec():
    m = get_method("arcee_fusion")
    assert m.params == () and m.base_role == "separate" and m.max_models == 1
