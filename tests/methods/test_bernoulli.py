import pytest
import torch

from modelfusion.methods.bernoulli import bernoulli_mask, split_probability


def test_keep_rate_matches_p_and_mask_is_float_zero_one():
    g = torch.Generator().manual_seed(0)
    for p in (0.1, 0.5, 0.9, 0.3333):
        mask = bernoulli_mask((400, 1000), p, g)
        assert mask.dtype == torch.float32 and set(mask.unique().tolist()) <= {0.0, 1.0}
        # 400k draws: the standard error of the rate is below 0.0008
        assert abs(float(mask.mean()) - p) < 0.004


def test_same_generator_state_gives_the_same_mask_and_odd_sizes_work():
    a = bernoulli_mask((7, 13), 0.4, torch.Generator().manual_seed(5))
    b = bernoulli_mask((7, 13), 0.4, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    assert not torch.equal(a, bernoulli_mask((7, 13), 0.4, torch.Generator().manual_seed(6)))
    assert bernoulli_mask((), 0.5, torch.Generator()).shape == ()


def test_extremes_draw_nothing():
    g = torch.Generator().manual_seed(1)
    state = g.get_state()
    assert torch.equal(bernoulli_mask((3, 4), 1.0, g), torch.ones(3, 4))
    assert torch.equal(bernoulli_mask((3, 4), 0.0, g), torch.zeros(3, 4))
    assert torch.equal(g.get_state(), state)


def test_probability_split_into_lane_threshold_and_fraction():
    # 2^16 p = T + f; thresholds are signed (T - 2^15) and always fit in int16
    t, f = split_probability(torch.tensor([0.5, 0.25, 1 - 1e-12, 1e-12, 0.1], dtype=torch.float64))
    assert t.tolist() == [0, -(1 << 14), (1 << 15) - 1, -(1 << 15), 6553 - (1 << 15)]
    torch.testing.assert_close(f[[0, 1]], torch.zeros(2, dtype=torch.float64))
    assert abs(float(f[4]) - 0.6) < 1e-9


def test_rate_is_exact_below_lane_resolution():
    # p between two lane steps: only the fraction draw for lanes equal to T can give the exact rate
    p = (3 + 0.5) / 2**16
    rates = [float(bernoulli_mask((1 << 22,), p, torch.Generator().manual_seed(s)).mean()) for s in range(4)]
    mean = sum(rates) / len(rates)  # 16.8M draws: expected kept 896, sd 30
    assert abs(mean * 2**16 - 3.5) < 0.4, mean * 2**16


def test_per_column_probabilities():
    g = torch.Generator().manual_seed(2)
    p = torch.tensor([0.05, 0.5, 0.95], dtype=torch.float64)
    rates = bernoulli_mask((100_000, 3), p, g).mean(0)
    torch.testing.assert_close(rates, p.float(), atol=0.006, rtol=0)


@pytest.mark.parametrize("p", [0.2, 0.7])
def test_lanes_are_independent_of_each_other(p):
    # the two lanes of one int64 draw: their joint keep rate is p^2 (no correlation between neighbours)
    mask = bernoulli_mask((200_000, 2), p, torch.Generator().manual_seed(3))
    assert abs(float((mask[:, 0] * mask[:, 1]).mean()) - p * p) < 0.006


def test_per_column_rate_is_exact_below_lane_resolution():
    p = torch.tensor([3.5 / 2**16, 0.5], dtype=torch.float64)
    kept = sum(float(bernoulli_mask((1 << 22, 2), p, torch.Generator().manual_seed(s))[:, 0].sum()) for s in range(4))
    assert abs(kept / (4 << 22) * 2**16 - 3.5) < 0.4  # without the fraction draw: 3.0
