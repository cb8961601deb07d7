"""modelfusion.merge_modules: in-memory modules in, a merged module out; data-aware methods calibrated on the
data given per model. Expected values computed here with plain torch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import modelfusion
from modelfusion.errors import UserError


def _linear(seed: int, out: int = 3, inp: int = 5) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(inp, out)


def _batches(seed: int, n: int = 2, rows: int = 8, width: int = 5) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(rows, width, generator=g) for _ in range(n)]


def test_linear_merge_of_modules_with_a_head_is_a_new_module():
    models = [nn.Sequential(_linear(s), nn.ReLU(), _linear(s + 10, 2, 3)) for s in (1, 2)]
    models[0].train()
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in models]
    merged = modelfusion.merge_modules(models, "linear", weight=[1.0, 3.0])
    assert isinstance(merged, nn.Sequential) and merged is not models[0]
    for name, tensor in merged.state_dict().items():
        assert torch.allclose(tensor, (before[0][name] + 3 * before[1][name]) / 4, atol=1e-6)
    assert all(torch.equal(before[i][k], v) for i, m in enumerate(models) for k, v in m.state_dict().items())
    assert models[0].training


def test_task_arithmetic_onto_a_separate_base_module():
    base, a, b = _linear(0), _linear(1), _linear(2)
    merged = modelfusion.merge_modules([a, b], "task_arithmetic", base=base, weight=[0.5, 0.25])
    expected = base.weight + 0.5 * (a.weight - base.weight) + 0.25 * (b.weight - base.weight)
    assert torch.allclose(merged.weight, expected, atol=1e-6)


def test_regmean_of_one_linear_layer_is_the_least_squares_fit_of_both_models_outputs():
    models, data = [_linear(1), _linear(2)], [_batches(11), _batches(12)]
    merged = modelfusion.merge_modules(models, "regmean", data=data, alpha=1.0)
    xs = [torch.cat(d).double() for d in data]  # min_W sum_i ||X_i W^T - X_i W_i^T||^2, solved by lstsq
    x = torch.cat([xi / len(xi) ** 0.5 for xi in xs])  # Grams are means over rows: weight each row 1/N_i
    y = torch.cat([xi @ m.weight.double().T / len(xi) ** 0.5 for xi, m in zip(xs, models)])
    expected = torch.linalg.lstsq(x, y).solution.T
    assert torch.allclose(merged.weight.double(), expected, atol=1e-5)
    assert torch.allclose(merged.bias, (models[0].bias + models[1].bias) / 2, atol=1e-6)  # no Gram: averaged


def test_fisher_with_given_labels_weights_each_entry_by_the_empirical_fisher():
    models = [_linear(1), _linear(2)]
    g = torch.Generator().manual_seed(5)
    data = [[(b, torch.randint(0, 3, (8,), generator=g)) for b in _batches(20 + i)] for i in range(2)]
    merged = modelfusion.merge_modules(models, "fisher", data=data, fisher_labels="given", fisher_floor=0.0)
    fishers = []
    for m, batches in zip(models, data):  # d log p(y|x) / dW = (onehot(y) - p) x^T, squared, mean over examples
        x = torch.cat([b for b, _ in batches])
        y = torch.cat([lab for _, lab in batches])
        with torch.no_grad():
            residual = nn.functional.one_hot(y, 3).float() - torch.softmax(m(x), -1)
        fishers.append((residual[:, :, None] * x[:, None, :]).pow(2).mean(0))
    expected = (fishers[0] * models[0].weight + fishers[1] * models[1].weight) / (fishers[0] + fishers[1])
    assert torch.allclose(merged.weight, expected, atol=1e-5)


def test_fisher_of_a_batchnorm_model_averages_the_running_statistics():
    """BatchNorm's running mean / var are buffers: no gradient, no Fisher; `fisher` averages them."""

    def net(seed: int) -> nn.Module:
        torch.manual_seed(seed)
        m = nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))
        m.train()
        with torch.no_grad():
            m(torch.randn(32, 5))  # moves the running statistics away from 0 / 1
        return m.eval()

    models = [net(1), net(2)]
    merged = modelfusion.merge_modules(models, "fisher", data=[_batches(41), _batches(42)], weight=[1.0, 3.0])
    for name in ("1.running_mean", "1.running_var"):
        mean = (models[0].state_dict()[name] + 3 * models[1].state_dict()[name]) / 4
        assert torch.allclose(merged.state_dict()[name], mean, atol=1e-6)
    assert not torch.allclose(merged[0].weight, (models[0][0].weight + 3 * models[1][0].weight) / 4, atol=1e-4)


def test_adamerging_through_merge_modules():
    base = _linear(0)
    models = [_linear(1), _linear(2)]
    data = [_batches(31), _batches(32)]
    merged = modelfusion.merge_modules(models, "adamerging", base=base, data=data, mode="task", steps=0, init=0.3)
    expected = base.weight + 1.0 * (0.3 * (models[0].weight - base.weight) + 0.3 * (models[1].weight - base.weight))
    assert torch.equal(merged.weight, expected.detach())


def test_user_errors():
    models = [_linear(1), _linear(2)]
    with pytest.raises(UserError, match="needs calibration data for model 0"):
        modelfusion.merge_modules(models, "regmean")
    with pytest.raises(UserError, match="uses no calibration data"):
        modelfusion.merge_modules(models, "linear", data=[_batches(1), _batches(2)])
    with pytest.raises(UserError, match="one per model"):
        modelfusion.merge_modules(models, "regmean", data=[_batches(1)])
    with pytest.raises(UserError, match="base model as a module"):
        modelfusion.merge_modules(models, "adamerging", data=[_batches(1), _batches(2)])
