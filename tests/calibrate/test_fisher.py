"""Diagonal Fisher from calibrate equals per-example squared gradients computed here in closed form."""

import torch
from safetensors.torch import load_file
from torch import nn

from modelfusion.calibrate import calibrate


def _classifier() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(4, 3)


def _closed_form(model: nn.Linear, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """d log softmax(W x + b)_y / dW = (e_y - p) x^T, / db = e_y - p; squared, averaged over examples."""
    with torch.no_grad():
        p = torch.softmax(model(x), dim=-1)
    residual = nn.functional.one_hot(y, 3).float() - p  # [N, 3]
    grad_w = residual[:, :, None] * x[:, None, :]  # [N, 3, 4]
    return {"fisher:weight": (grad_w**2).mean(0), "fisher:bias": (residual**2).mean(0)}


def test_empirical_fisher_with_given_labels(tmp_path):
    model = _classifier()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(10, 4, generator=g), torch.randint(0, 3, (10,), generator=g)
    batches = [(x[:6], y[:6]), (x[6:], y[6:])]
    result = calibrate(model, batches, tmp_path / "f.safetensors", stats=["fisher"], fisher_labels="given")
    got = load_file(str(result.path))
    for name, expected in _closed_form(model, x, y).items():
        torch.testing.assert_close(got[name], expected, rtol=1e-5, atol=1e-7)


def test_true_fisher_samples_labels_from_the_model():
    """Labels drawn from the model's own prediction, one per example, from the seeded CPU generator in order."""
    model = _classifier()
    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(2))
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        probs = torch.softmax(model(x), dim=-1)
    y = torch.cat([torch.multinomial(probs[i : i + 1], 1, generator=generator)[:, 0] for i in range(8)])
    from modelfusion.calibrate import fisher_statistics
    from modelfusion.calibrate.data import as_batches

    got = fisher_statistics(model, as_batches([x]), seed=5)
    for name, expected in _closed_form(model, x, y).items():
        torch.testing.assert_close(got[name], expected, rtol=1e-5, atol=1e-7)


def test_true_fisher_is_unbiased_for_the_expected_fisher():
    """Averaged over many examples of one input, sampled labels approach E_y~p[(grad log p_y)^2]."""
    model = _classifier()
    x = torch.randn(1, 4, generator=torch.Generator().manual_seed(3)).expand(3000, 4)
    from modelfusion.calibrate import fisher_statistics
    from modelfusion.calibrate.data import as_batches

    got = fisher_statistics(model, as_batches([x]), seed=0)
    with torch.no_grad():
        p = torch.softmax(model(x[:1]), dim=-1)[0]
    exact = sum(p[c] * (nn.functional.one_hot(torch.tensor(c), 3).float() - p) ** 2 for c in range(3))
    torch.testing.assert_close(got["fisher:bias"], exact, rtol=0.1, atol=0.01)
