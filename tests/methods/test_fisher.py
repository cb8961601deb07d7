"""Fisher merging: sum_i w_i F_i theta_i / sum_i w_i F_i, against a few lines of torch."""

import pytest
import torch

from modelfusion.methods import get_method

FISHER = get_method("fisher")


def test_fisher_weighted_average_entrywise():
    g = torch.Generator().manual_seed(0)
    thetas = [torch.randn(5, 4, generator=g) for _ in range(3)]
    fishers = [torch.rand(5, 4, generator=g) for _ in range(3)]
    w = [1.0, 2.0, 0.5]
    out = FISHER(thetas, {"weight": w, "fisher_floor": 0.0}, statistics={"fisher": fishers})
    num = sum(wi * f * t for wi, f, t in zip(w, fishers, thetas))
    den = sum(wi * f for wi, f in zip(w, fishers))
    torch.testing.assert_close(out, num / den)


def test_floor_is_added_to_every_entry():
    a, b = torch.tensor([1.0, 5.0]), torch.tensor([3.0, -1.0])
    fa, fb = torch.tensor([0.0, 1.0]), torch.tensor([0.0, 3.0])
    out = FISHER([a, b], {"weight": [1.0, 1.0], "fisher_floor": 0.5}, statistics={"fisher": [fa, fb]})
    expected = torch.tensor([(0.5 * 1 + 0.5 * 3) / 1.0, (1.5 * 5 + 3.5 * -1) / 5.0])
    torch.testing.assert_close(out, expected)


def test_zero_fisher_falls_back_to_the_weighted_mean():
    a, b = torch.tensor([1.0, 4.0]), torch.tensor([3.0, 8.0])
    fa, fb = torch.tensor([0.0, 1.0]), torch.tensor([0.0, 0.0])
    out = FISHER([a, b], {"weight": [1.0, 3.0], "fisher_floor": 0.0}, statistics={"fisher": [fa, fb]})
    torch.testing.assert_close(out, torch.tensor([(1.0 + 3 * 3.0) / 4, 4.0]))


def test_tensor_without_fisher_is_the_weighted_mean():
    a, b = torch.tensor([1.0, 4.0]), torch.tensor([3.0, 8.0])
    out = FISHER([a, b], {"weight": [1.0, 3.0], "fisher_floor": 1e-6})
    torch.testing.assert_close(out, (a + 3 * b) / 4)


def test_fisher_count_must_match_the_models():
    with pytest.raises(ValueError, match="Fisher"):
        FISHER(
            [torch.ones(2), torch.ones(2)],
            {"weight": [1.0, 1.0], "fisher_floor": 0.0},
            statistics={"fisher": [torch.ones(2)]},
        )
