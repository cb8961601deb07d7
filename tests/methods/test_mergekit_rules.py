"""Rules matched to mergekit 0.1.5 (issue 14): nuslerp's weights summing to zero, SCE's top-k count."""

import math

import torch

from modelfusion.methods.nuslerp import nuslerp
from modelfusion.methods.sce import sce, select_count


def _slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    th = math.acos(float((a @ b) / (a.norm() * b.norm())))
    return (math.sin((1 - t) * th) * a + math.sin(t * th) * b) / math.sin(th)


def test_nuslerp_weights_summing_to_zero_interpolate_half_way():
    base = torch.tensor([1.0, 1.0, 1.0])
    a, b = base + torch.tensor([2.0, 0.0, 0.0]), base + torch.tensor([0.0, 1.0, 1.0])
    for weight in ([-0.5, 0.5], [1.0, -1.0], [3e-7, 0.0]):  # |sum| < 1e-6: t = 0.5, as mergekit
        out = nuslerp([a, b], base=base, weight=weight, nuslerp_flatten=False, nuslerp_row_wise=False)
        torch.testing.assert_close(out, base + _slerp(a - base, b - base, 0.5))
    out = nuslerp([a, b], base=base, weight=[1.0, 3.0], nuslerp_flatten=False, nuslerp_row_wise=False)
    torch.testing.assert_close(out, base + _slerp(a - base, b - base, 0.75))


def test_sce_top_k_counts_only_positions_of_nonzero_variance():
    base = torch.zeros(8)
    # positions 0..3: both models agree (variance 0); 4..7: variances 1, 4, 9, 16
    x1 = torch.tensor([1.0, 1.0, 2.0, 2.0, 1.0, 2.0, 3.0, 4.0])
    x2 = torch.tensor([1.0, 1.0, 2.0, 2.0, -1.0, -2.0, -3.0, -4.0])
    var = torch.stack([x1, x2]).var(0, unbiased=False)
    assert select_count(var, 0.5) == 2  # int(4 * 0.5), not int(8 * 0.5) = 4
    assert select_count(var, 0.3) == 1 and select_count(var, 1.0) == 8 and select_count(var, 0.0) == 0
    out = sce([x1, x2], base=base, select_topk=0.5, int8_mask=False)
    # kept: positions 6 and 7 only; there the two deltas cancel in sign election: the positive one is x1's
    kept = torch.zeros(8, dtype=torch.bool)
    kept[6:] = True
    assert torch.all(out[~kept] == 0)
    torch.testing.assert_close(out[6:], x1[6:])
