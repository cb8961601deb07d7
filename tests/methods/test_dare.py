import torch

from modelfusion.methods import get_method

DARE_LINEAR, DARE_TIES = get_method("dare_linear"), get_method("dare_ties")


def call(method, xs, base, generator, **kw):
    params = {
        "weight": [1.0] * len(xs),
        "density": [0.3] * len(xs),
        "normalize": False,
        "rescale": True,
        "lambda": 1.0,
        "int8_mask": False,
    }
    params.update(kw)
    return method(xs, params, base=base, generator=generator)


def test_dare_linear_keeps_density_and_rescales_to_l1():
    base = torch.zeros(200, 100)
    delta = torch.randn(200, 100, generator=torch.Generator().manual_seed(1))
    out = call(DARE_LINEAR, [delta], base, torch.Generator().manual_seed(7))
    kept = out != 0
    assert abs(kept.float().mean().item() - 0.3) < 0.01
    ratio = delta.abs().sum() / delta[kept].abs().sum()
    torch.testing.assert_close(out[kept], delta[kept] * ratio)


def test_no_rescale_keeps_values_and_density_one_keeps_all():
    delta = torch.randn(50, 40)
    out = call(DARE_LINEAR, [delta], torch.zeros(50, 40), torch.Generator().manual_seed(0), rescale=False)
    kept = out != 0
    torch.testing.assert_close(out[kept], delta[kept])
    full = call(DARE_LINEAR, [delta], torch.zeros(50, 40), torch.Generator().manual_seed(0), density=[1.0])
    torch.testing.assert_close(full, delta)


def test_same_seed_same_result_and_mean_over_seeds_is_unbiased():
    base = torch.randn(30, 30)
    xs = [base + 0.1 * torch.randn(30, 30), base + 0.1 * torch.randn(30, 30)]
    a = call(DARE_TIES, xs, base, torch.Generator().manual_seed(3))
    b = call(DARE_TIES, xs, base, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    mean = torch.stack(
        [call(DARE_LINEAR, xs, base, torch.Generator().manual_seed(s), density=[0.5, 0.5]) for s in range(200)]
    ).mean(0)
    expected = base + (xs[0] - base) + (xs[1] - base)
    assert (mean - expected).abs().mean() < 0.02


def test_dare_ties_with_density_one_equals_ties():
    base = torch.zeros(6)
    x1 = torch.tensor([1.0, -1.0, 2.0, 0.0, 3.0, -3.0])
    x2 = torch.tensor([-2.0, -1.0, -1.0, 5.0, 3.0, 3.0])
    out = call(DARE_TIES, [x1, x2], base, torch.Generator(), density=[1.0, 1.0], normalize=True)
    torch.testing.assert_close(out, torch.tensor([-2.0, -1.0, 2.0, 5.0, 3.0, 3.0]))


def test_specs_are_random_with_mergekit_defaults():
    for name in ("dare_linear", "dare_ties"):
        m = get_method(name)
        assert m.random and m.param("rescale").default is True and m.param("normalize").default is False
