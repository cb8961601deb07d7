import torch

from modelfusion.methods import get_method
from modelfusion.methods.keep_rules import KeepMiddle
from modelfusion.methods.rank_cut import window_mask

BREADCRUMBS, BREADCRUMBS_TIES = get_method("breadcrumbs"), get_method("breadcrumbs_ties")


def outlier_mask(delta: torch.Tensor, density: float, gamma: float) -> torch.Tensor:
    return window_mask(delta.abs(), KeepMiddle(density, gamma).window(delta.numel()))


def call(method, xs, base, **kw):
    params = {
        "weight": [1.0] * len(xs),
        "density": [0.6] * len(xs),
        "gamma": [0.1] * len(xs),
        "normalize": False,
        "rescale": False,
        "lambda": 1.0,
        "int8_mask": False,
    }
    params.update(kw)
    return method(xs, params, base=base)


def test_drops_largest_and_smallest():
    delta = torch.arange(1.0, 11.0) * torch.tensor([1.0, -1.0] * 5)
    out = call(BREADCRUMBS, [delta], torch.zeros(10))
    expected = torch.where((delta.abs() >= 4) & (delta.abs() <= 9), delta, torch.zeros(10))
    torch.testing.assert_close(out, expected)


def test_counts_follow_floor_rules():
    delta = torch.randperm(97).float() + 1
    for density, gamma, kept, top in [(0.37, 0.013, 35, 1), (0.5, 0.45, 48, 43), (0.5, 0.6, 48, 49), (0.9, 0.0, 87, 0)]:
        mask = outlier_mask(delta, density, gamma)
        assert int(mask.sum()) == kept
        assert int((delta > delta[mask].max()).sum()) == top


def test_equal_magnitudes_follow_ascending_index_order():
    delta = torch.tensor([1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0])
    # ascending ranks in index order; density 0.7, gamma 0.1 keep ranks [2, 9)
    assert outlier_mask(delta, 0.7, 0.1).tolist() == [False, False] + [True] * 7 + [False]


def test_rescale_and_edge_cases():
    delta = torch.arange(1.0, 11.0)
    out = call(BREADCRUMBS, [delta], torch.zeros(10), rescale=True)
    kept = torch.where((delta >= 4) & (delta <= 9), delta, torch.zeros(10))
    torch.testing.assert_close(out, kept * 55.0 / 39.0)
    torch.testing.assert_close(call(BREADCRUMBS, [delta], torch.zeros(10), density=[1.0]), delta)
    torch.testing.assert_close(call(BREADCRUMBS, [delta], torch.zeros(10), density=[0.0]), torch.zeros(10))


def test_breadcrumbs_ties_elects_signs():
    x1 = torch.tensor([1.0, -1.0, 2.0, 0.0, 3.0, -3.0])
    x2 = torch.tensor([-2.0, -1.0, -1.0, 5.0, 3.0, 3.0])
    out = call(BREADCRUMBS_TIES, [x1, x2], torch.zeros(6), density=[1.0, 1.0], normalize=True)
    torch.testing.assert_close(out, torch.tensor([-2.0, -1.0, 2.0, 5.0, 3.0, 3.0]))


def test_spec():
    m = get_method("breadcrumbs")
    assert m.param("gamma").default == 0.01 and m.param("gamma").per_model
