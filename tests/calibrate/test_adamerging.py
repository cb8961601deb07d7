"""AdaMerging on two tiny classifiers fine-tuned on two tasks: the entropy it minimises goes down on its data, and
the recipe it writes, merged by `modelfusion merge` with no data, gives exactly the model it learned."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file
from torch import nn
from typer.testing import CliRunner

import modelfusion
from modelfusion.calibrate.adamerging import adamerge, entropy
from modelfusion.calibrate.adamerging_recipe import weight_setting
from modelfusion.errors import UserError


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 4))


def _task(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + seed)
    x = torch.randn(64, 6, generator=g) + 2 * torch.randn(1, 6, generator=g)  # a shifted cluster per task
    teacher = torch.randn(6, 4, generator=g)
    return x, (x @ teacher).argmax(-1)


def _fine_tune(base: nn.Module, seed: int) -> nn.Module:
    model = copy.deepcopy(base)
    x, y = _task(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model


@pytest.fixture(scope="module")
def setup():
    base = _net(0)
    models = [_fine_tune(base, k) for k in (1, 2)]
    data = [[_task(k)[0][i : i + 16] for i in range(0, 64, 16)] for k in (1, 2)]  # unlabeled batches
    return base, models, data


def _save(model: nn.Module, folder) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    return str(folder)


def test_entropy_of_a_classifier_and_of_masked_tokens():
    logits = torch.tensor([[0.0, 0.0], [10.0, -10.0]])
    expected = (math.log(2) + 0.0) / 2
    assert float(entropy(logits)) == pytest.approx(expected, abs=1e-6)
    tokens = torch.zeros(1, 3, 4)  # uniform over 4 at every position; the masked one would not change the mean
    tokens[0, 2] = torch.tensor([50.0, 0, 0, 0])
    assert float(entropy(tokens, torch.tensor([[1, 1, 0]]))) == pytest.approx(math.log(4), abs=1e-6)


def test_layer_wise_adamerging_lowers_entropy_and_its_recipe_reproduces_the_merge(setup, tmp_path):
    base, models, data = setup
    folders = [_save(m, tmp_path / n) for m, n in ((base, "base"), (models[0], "ft1"), (models[1], "ft2"))]
    result = adamerge(base, models, data, names=folders[1:], base_name=folders[0], steps=40, lr=0.01)
    assert sum(result.entropy_after) < 0.9 * sum(result.entropy_before)
    assert result.losses[-1] < result.losses[0]
    coefs = result.coefficients
    assert set(coefs[0]) == set(base.state_dict())
    assert len({round(v, 9) for v in coefs[0].values()}) > 1  # layer-wise: the tensors got different lambdas
    assert all(0.0 <= v <= 1.0 for c in coefs for v in c.values())
    recipe = result.write(tmp_path / "adamerging.yaml")
    assert yaml.safe_load(recipe.read_text())["merge_method"] == "task_arithmetic"
    merged = modelfusion.merge(recipe, tmp_path / "out")  # no data: the recipe alone
    got = load_file(str(tmp_path / "out" / "model.safetensors"))
    states = [m.state_dict() for m in (base, *models)]
    for name, b in states[0].items():  # theta_base + 1.0 * sum_k lambda_k (theta_k - theta_base), float32
        expected = b + 1.0 * (coefs[0][name] * (states[1][name] - b) + coefs[1][name] * (states[2][name] - b))
        assert torch.equal(got[name], expected), name
    # the entropy the learner reported is the merged model's
    net = copy.deepcopy(base)
    net.load_state_dict(got)
    with torch.no_grad():
        after = [sum(float(entropy(net(b))) for b in task) / len(task) for task in data]
    assert after == pytest.approx(result.entropy_after, abs=1e-5)
    assert merged is not None


def test_task_wise_adamerging_writes_one_weight_per_model(setup):
    base, models, data = setup
    result = adamerge(base, models, data, mode="task", steps=5, lr=0.05)
    weights = [m["parameters"]["weight"] for m in result.recipe["models"]]
    assert all(isinstance(w, float) for w in weights)
    assert [m["model"] for m in result.recipe["models"]] == ["model_1", "model_2"]
    assert result.recipe["base_model"] == "base"


def test_weight_setting_lists_every_tensor_an_entry_would_catch():
    values = {"a.weight": 0.5, "xa.weight": 0.3, "b.weight": 0.3, "a.weightx": 0.3}
    setting = weight_setting(values)
    assert setting[-1] == {"value": 0.3}
    listed = [e["filter"] for e in setting[:-1]]
    assert set(listed) == {"a.weight", "xa.weight", "a.weightx"}  # both names holding "a.weight" listed
    for name, value in values.items():  # the first matching entry (recipe/settings.py's rule) gives the value
        assert next(e["value"] for e in setting if "filter" not in e or e["filter"] in name) == value
    assert weight_setting({"a": 0.25, "b": 0.25}) == 0.25


def test_user_errors():
    base = _net(0)
    with pytest.raises(UserError, match="data sources"):
        adamerge(base, [base], [])
    with pytest.raises(UserError, match="mode"):
        adamerge(base, [base], [[torch.zeros(1, 6)]], mode="block")  # type: ignore[arg-type]


def test_cli_writes_a_recipe_from_folders(tmp_path):
    from modelfusion.cli.main import app
    from tests.tiny_tokenizers import WORDS, save_worded_llama

    folders = [save_worded_llama(tmp_path / n, WORDS["a"], seed=s) for n, s in (("base", 0), ("ft1", 1), ("ft2", 2))]
    data = tmp_path / "data.txt"
    data.write_text("the cat sat on the mat\nthe cat sat\non the mat\n")
    out = tmp_path / "ada.yaml"
    args = ["adamerge", str(folders[0]), str(folders[1]), str(folders[2]), "--data", str(data), "--data", str(data)]
    res = CliRunner().invoke(app, [*args, "--out", str(out), "--steps", "2", "-q"])
    assert res.exit_code == 0, res.output
    recipe = yaml.safe_load(out.read_text())
    assert [m["model"] for m in recipe["models"]] == [str(folders[1]), str(folders[2])]
    modelfusion.merge(out, tmp_path / "merged")
    bad = CliRunner().invoke(app, [*args[:4], "--data", str(data), "--out", str(out)])
    assert bad.exit_code == 2
