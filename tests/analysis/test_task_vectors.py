"""Task-vector statistics against numbers worked out by hand (see the comments)."""

from __future__ import annotations

import math

import pytest
import torch

from modelfusion.analysis.task_vectors import tensor_stats, trim_to_density

# tau1 = [3, -1, 2, 0, 1, -2], tau2 = [1.5, 1, -4, 2, 0, -0.5]
TAU1 = torch.tensor([3.0, -1.0, 2.0, 0.0, 1.0, -2.0])
TAU2 = torch.tensor([1.5, 1.0, -4.0, 2.0, 0.0, -0.5])
BASE = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])


def test_norms_and_cosine_by_hand():
    s = tensor_stats(BASE, [TAU1, TAU2], density=1.0)
    # |tau1|^2 = 9+1+4+0+1+4 = 19 ; |tau2|^2 = 2.25+1+16+4+0+0.25 = 23.5 ; <tau1,tau2> = 4.5-1-8+0+0+1 = -3.5
    assert s.norm(0) == pytest.approx(math.sqrt(19))
    assert s.norm(1) == pytest.approx(math.sqrt(23.5))
    assert s.cosine(0, 1) == pytest.approx(-3.5 / math.sqrt(19 * 23.5))
    assert s.relative_norm(0) == pytest.approx(math.sqrt(19 / 6))  # |base|^2 = 6


def test_sign_conflicts_and_shares_without_trimming():
    s = tensor_stats(BASE, [TAU1, TAU2], density=1.0)
    # every position has a non-zero value; signs disagree at positions 1 (-1 vs 1) and 2 (2 vs -4)
    assert (s.active, s.conflicts) == (6, 2)
    assert s.conflict_rate == pytest.approx(2 / 6)
    # elected sign = sign(tau1 + tau2) = sign([4.5, 0, -2, 2, 1, -2.5]) = [+, 0, -, +, +, -]
    # agreeing mass: tau1 -> 3 (pos 0) + 1 (pos 4) + 2 (pos 5) = 6 ; tau2 -> 1.5 + 4 + 2 + 0.5 = 8
    assert s.elected_mass == pytest.approx([6.0, 8.0])
    assert s.elected_share(0) == pytest.approx(6 / 14)
    assert s.elected_share(1) == pytest.approx(8 / 14)
    # kept mass 9 and 9: election throws away 1 - 14/18
    assert s.election_loss == pytest.approx(4 / 18)


def test_ties_view_at_density_one_half():
    s = tensor_stats(BASE, [TAU1, TAU2], density=0.5)
    # k = int(0.5 * 6) = 3 largest |values|: tau1 -> [3, 0, 2, 0, 0, -2] ; tau2 -> [1.5, 0, -4, 2, 0, 0]
    # non-zero somewhere at positions 0, 2, 3, 5 ; both signs only at position 2
    assert (s.active, s.conflicts) == (4, 1)
    # elected = sign([4.5, 0, -2, 2, 0, -2]); tau1 agrees at 0 and 5 (3 + 2), tau2 at 0, 2, 3 (1.5 + 4 + 2)
    assert s.elected_mass == pytest.approx([5.0, 7.5])
    assert s.elected_share(0) == pytest.approx(0.4)
    assert s.election_loss == pytest.approx(1 - 12.5 / 14.5)


def test_known_cosine_on_a_large_tensor():
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(4000, 2, generator=g, dtype=torch.float64))
    u, v = q[:, 0], q[:, 1]
    tau1 = (3 * u).float()
    tau2 = (2 * (0.6 * u + 0.8 * v)).float()  # cosine 0.6 by construction, norms 3 and 2
    s = tensor_stats(torch.zeros(4000), [tau1, tau2], density=1.0)
    assert s.cosine(0, 1) == pytest.approx(0.6, abs=1e-5)
    assert (s.norm(0), s.norm(1)) == pytest.approx((3.0, 2.0), abs=1e-5)


def test_opposite_task_vectors_conflict_everywhere():
    tau = torch.tensor([1.0, -2.0, 3.0, -4.0])
    s = tensor_stats(torch.zeros(4), [tau, -tau], density=1.0)
    assert s.cosine(0, 1) == pytest.approx(-1.0)
    assert s.conflict_rate == 1.0
    # the sums cancel: elected sign 0 everywhere, so nothing is elected
    assert s.elected_mass == [0.0, 0.0]
    assert math.isnan(s.elected_share(0))


def test_trim_keeps_the_k_largest_magnitudes():
    t = torch.tensor([[0.1, -5.0], [3.0, -0.2]])
    assert trim_to_density(t, 0.5).tolist() == [0.0, -5.0, 3.0, 0.0]
    assert trim_to_density(t, 0.1).tolist() == [0.0, 0.0, 0.0, 0.0]  # int(0.4) = 0 kept


def test_stats_add_up_over_tensors():
    a = tensor_stats(BASE, [TAU1, TAU2], density=1.0)
    b = tensor_stats(torch.zeros(2), [torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 0.0])], density=1.0)
    s = a + b
    assert s.numel == 8
    assert s.sq == pytest.approx([20.0, 24.5])
    assert s.dot[0][1] == pytest.approx(-4.5)
    assert (s.active, s.conflicts) == (7, 3)
