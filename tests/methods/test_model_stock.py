import torch

from modelfusion.methods import get_method
from modelfusion.methods.model_stock import model_stock


def test_ratio_from_the_angle_between_task_vectors():
    base = torch.zeros(2)
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0])  # cos = 1/sqrt(2)
    cos = 2**-0.5
    t = 2 * cos / (1 + cos)
    expected = t * (a + b) / 2
    torch.testing.assert_close(model_stock([a, b], base=base, filter_wise=False), expected)


def test_three_models_mean_pairwise_cosine():
    base = torch.randn(4, 5)
    xs = [base + torch.randn(4, 5) for _ in range(3)]
    d = [x - base for x in xs]
    cos = lambda u, v: (u * v).sum() / (u.norm() * v.norm())  # noqa: E731
    c = (cos(d[0], d[1]) + cos(d[0], d[2]) + cos(d[1], d[2])) / 3
    t = 3 * c / (1 + 2 * c)
    expected = t * sum(xs) / 3 + (1 - t) * base
    torch.testing.assert_close(model_stock(xs, base=base, filter_wise=False), expected)


def test_filter_wise_uses_one_ratio_per_row():
    base = torch.zeros(2, 2)
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    b = torch.tensor([[0.0, 1.0], [2.0, 0.0]])  # row 0 orthogonal (t = 0), row 1 colinear (t = 1)
    out = model_stock([a, b], base=base, filter_wise=True)
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0], [1.5, 0.0]]))


def test_unchanged_tensors_give_the_base():
    base = torch.randn(3, 3)
    torch.testing.assert_close(model_stock([base.clone(), base.clone()], base=base, filter_wise=False), base)


def test_spec():
    m = get_method("model_stock")
    assert m.min_models == 2 and m.param("filter_wise").default is False and m.base_role == "separate"
