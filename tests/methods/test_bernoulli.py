import pytest
import torch

from modelfusion.methods.bernoulli import LANE, bernoulli_mask, signed_threshold


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


def test_threshold_resolution():
    # T(p) = round(p 2^32), as a signed int32 bound
    assert signed_threshold(0.5) == 0
    assert signed_threshold(0.25) == -(LANE >> 2)
    assert signed_threshold(1 - 1e-12) == (LANE >> 1) - 1  # never 2^31: it must fit in int32
    assert -(1 << 31) <= signed_threshold(1e-12) < (1 << 31)


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
