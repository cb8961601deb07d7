import math

import torch

from modelfusion.methods import get_method
from modelfusion.methods.karcher import karcher


def test_two_points_give_the_arc_midpoint():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 3.0])
    out = karcher([a, b], max_iter=50, tol=1e-9)
    torch.testing.assert_close(out, 2.0 * torch.tensor([math.cos(math.pi / 4), math.sin(math.pi / 4)]))


def test_three_points_in_a_plane_give_the_angle_mean():
    angles = [0.0, 0.3, 1.2]
    xs = [torch.tensor([math.cos(t), math.sin(t), 0.0]) for t in angles]
    out = karcher(xs, max_iter=100, tol=1e-10)
    mean = sum(angles) / 3  # on a great circle the Karcher mean is the mean angle
    torch.testing.assert_close(out, torch.tensor([math.cos(mean), math.sin(mean), 0.0]), atol=1e-6, rtol=0)


def test_identical_models_are_returned():
    x = torch.randn(3, 4)
    torch.testing.assert_close(karcher([x, x.clone()], max_iter=10, tol=1e-5), x)


def test_spec():
    m = get_method("karcher")
    assert m.param("max_iter").default == 10 and m.param("max_iter").type is int and m.param("tol").default == 1e-5
