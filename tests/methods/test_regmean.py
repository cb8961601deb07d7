"""RegMean on a linear layer equals the least-squares solution computed here; other tensors are averaged."""

import torch

from modelfusion.methods import get_method

REGMEAN = get_method("regmean")


def test_alpha_one_is_the_least_squares_fit_of_every_models_outputs():
    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(40, 6, dtype=torch.float64, generator=g) for _ in range(2)]  # inputs of each model's layer
    ws = [torch.randn(3, 6, dtype=torch.float64, generator=g) for _ in range(2)]  # [out, in] torch Linear weights
    grams = [x.T @ x for x in xs]
    out = REGMEAN(ws, {"weight": [1.0, 1.0], "alpha": 1.0}, statistics={"gram": grams})
    # min_W sum_i ||X_i W^T - X_i W_i^T||^2: stack the problems and solve with lstsq
    x = torch.cat(xs)
    y = torch.cat([xi @ wi.T for xi, wi in zip(xs, ws)])
    expected = torch.linalg.lstsq(x, y).solution.T
    torch.testing.assert_close(out, expected)


def test_alpha_scales_the_off_diagonal():
    g = torch.Generator().manual_seed(1)
    ws = [torch.randn(2, 3, generator=g) for _ in range(2)]
    grams = [(lambda x: x.T @ x)(torch.randn(10, 3, generator=g)) for _ in range(2)]
    alpha = 0.5
    shrunk = [alpha * gm + (1 - alpha) * torch.diag(torch.diag(gm)) for gm in grams]
    expected = (ws[0] @ shrunk[0] + ws[1] @ shrunk[1]) @ torch.linalg.inv(shrunk[0] + shrunk[1])
    out = REGMEAN(ws, {"weight": [1.0, 1.0], "alpha": alpha}, statistics={"gram": grams})
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_without_grams_the_weighted_mean():
    a, b = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 6.0])
    out = REGMEAN([a, b], {"weight": [1.0, 3.0], "alpha": 0.9})
    torch.testing.assert_close(out, (a + 3 * b) / 4)
