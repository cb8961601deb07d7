import torch

from modelfusion.methods import get_method
from modelfusion.methods.consensus import agreement_mask, elect_sign
from modelfusion.methods.keep_rules import KeepLargest
from modelfusion.methods.rank_cut import window_mask

ties = get_method("ties").function

ZERO = torch.zeros(6)
X1 = torch.tensor([1.0, -1.0, 2.0, 0.0, 3.0, -3.0])
X2 = torch.tensor([-2.0, -1.0, -1.0, 5.0, 3.0, 3.0])


def magnitude_mask(delta: torch.Tensor, density: float) -> torch.Tensor:
    window = KeepLargest(density).window(delta.numel())
    return torch.ones_like(delta, dtype=torch.bool) if window is None else window_mask(delta.abs(), window)


def run(xs, base=ZERO, **kw):
    args = dict(weight=[1.0] * len(xs), density=[1.0] * len(xs), normalize=True, rescale=False, lambda_=1.0)
    args.update(kw)
    return ties(xs, base=base, int8_mask=False, **args)


def test_sign_election_and_disjoint_mean():
    # sums: [-1, -2, 1, 5, 6, 0] -> signs [-, -, +, +, +, + (tie counts as +)]
    expected = torch.tensor([-2.0, -1.0, 2.0, 5.0, 3.0, 3.0])
    torch.testing.assert_close(run([X1, X2]), expected)


def test_weights_vote_and_divide_where_agreeing():
    w = [1.0, 0.5]
    d1, d2 = w[0] * X1, w[1] * X2
    sign = torch.where(d1 + d2 >= 0, 1.0, -1.0)
    m1, m2 = (d1.sign() == sign).float(), (d2.sign() == sign).float()
    num = m1 * d1 + m2 * d2
    den = m1 * w[0] + m2 * w[1]
    expected = num / torch.where(den == 0, torch.ones_like(den), den)
    torch.testing.assert_close(run([X1, X2], weight=w), expected)
    torch.testing.assert_close(run([X1, X2], weight=w, normalize=False, lambda_=2.0), 2.0 * num)


def test_trim_keeps_floor_density_n_largest():
    delta = torch.arange(1.0, 11.0) * torch.tensor([1.0, -1.0] * 5)
    for density, kept in [(0.55, 5), (0.49, 4), (0.25, 2), (0.0, 0), (1.0, 10)]:
        mask = magnitude_mask(delta, density)
        assert int(mask.sum()) == kept
        if kept:
            assert delta.abs()[mask].min() == 11 - kept


def test_equal_magnitudes_keep_exactly_k_in_index_order():
    delta = torch.tensor([1.0, -1.0, 1.0, 1.0, 2.0, -2.0, 2.0, 2.0, 3.0, 3.0])
    mask = magnitude_mask(delta, 0.5)  # the two 3s and the first three 2s
    assert mask.tolist() == [False] * 4 + [True, True, True, False, True, True]
    assert int(magnitude_mask(torch.ones(10), 0.3).sum()) == 3


def test_density_one_is_plain_disjoint_mean_and_rescale_keeps_l1():
    delta = torch.tensor([[3.0, -1.0], [0.5, -4.0]])
    out = run([delta], base=torch.zeros(2, 2), density=[0.5], rescale=True)
    kept = torch.tensor([[3.0, 0.0], [0.0, -4.0]])
    torch.testing.assert_close(out, kept * (8.5 / 7.0))
    torch.testing.assert_close(run([delta], base=torch.zeros(2, 2)), delta)


def test_all_zero_task_vectors_give_the_base():
    base = torch.randn(3, 4)
    out = run([base.clone(), base.clone()], base=base, density=[0.5, 0.5])
    torch.testing.assert_close(out, base)


def test_consensus_primitives():
    deltas = torch.stack([X1, X2])
    torch.testing.assert_close(elect_sign(deltas), torch.tensor([-1.0, -1.0, 1.0, 1.0, 1.0, 1.0]))
    assert agreement_mask(deltas)[0, 3].item() is False  # a zero never agrees


def test_spec():
    m = get_method("ties")
    assert m.param("normalize").default is True and m.param("density").default == 1.0
    assert (m.param("density").low, m.param("density").high) == (0.0, 1.0)
