"""Calibrate tiny Llama fine-tunes from their folders (text file, their own tokenizer), then merge with
regmean / fisher through an ordinary recipe; the CLI does the same."""

import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

import modelfusion
from modelfusion.calibrate import calibrate, load_model
from modelfusion.calibrate.data import as_batches
from modelfusion.calibrate.fisher import fisher_statistics
from modelfusion.cli.main import app
from tests.tiny_tokenizers import WORDS, save_worded_llama

LINES = ["the cat sat on the mat", "the cat sat", "on the mat the cat sat on", "mat"]


def _setup(tmp_path):
    folders = [save_worded_llama(tmp_path / name, WORDS["a"], seed=seed) for name, seed in (("ft1", 1), ("ft2", 2))]
    data = tmp_path / "data.txt"
    data.write_text("\n".join(LINES) + "\n\n")
    return folders, data


def test_regmean_and_fisher_recipes_from_calibrated_models(tmp_path):
    folders, data = _setup(tmp_path)
    results = [calibrate(f, data, stats=["gram", "fisher"], batch_size=3) for f in folders]
    assert [r.path for r in results] == [tmp_path / "ft1.stats.safetensors", tmp_path / "ft2.stats.safetensors"]
    stats = load_file(str(results[0].path))
    assert stats["gram:model.layers.0.mlp.up_proj.weight"].shape == (32, 32)
    assert stats["fisher:model.layers.1.mlp.down_proj.weight"].shape == (32, 64)
    for method in ("regmean", "fisher"):
        recipe = {
            "merge_method": method,
            "models": [{"model": str(f), "statistics": str(r.path)} for f, r in zip(folders, results)],
            "dtype": "float32",
        }
        modelfusion.merge(recipe, tmp_path / method)
    merged = load_file(str(tmp_path / "regmean" / "model.safetensors"))
    name = "model.layers.0.mlp.up_proj.weight"
    w = [load_file(str(f / "model.safetensors"))[name] for f in folders]
    g = [load_file(str(r.path))[f"gram:{name}"].double() for r in results]
    shrunk = [0.9 * x + 0.1 * torch.diag(torch.diag(x)) for x in g]  # regmean's default alpha 0.9
    expected = (w[0].double() @ shrunk[0] + w[1].double() @ shrunk[1]) @ torch.linalg.inv(shrunk[0] + shrunk[1])
    torch.testing.assert_close(merged[name].double(), expected, rtol=1e-4, atol=1e-4)


def test_language_model_fisher_with_given_labels_uses_the_causal_shift(tmp_path):
    folder = save_worded_llama(tmp_path / "m", WORDS["a"], seed=3)
    model = load_model(folder)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(2, 7, (3, 5), generator=g)
    got = fisher_statistics(model, as_batches([{"input_ids": ids, "labels": ids}]), use_labels=True)
    name = "model.layers.0.self_attn.q_proj.weight"
    param = dict(model.named_parameters())[name]
    expected = torch.zeros_like(param)
    for i in range(3):  # transformers' own shifted loss: mean over the 4 predicted tokens
        model.zero_grad()
        (model(input_ids=ids[i : i + 1], labels=ids[i : i + 1]).loss * 4).backward()
        expected += param.grad**2
    torch.testing.assert_close(got[f"fisher:{name}"], expected / 3, rtol=1e-4, atol=1e-10)


def test_cli(tmp_path):
    folders, data = _setup(tmp_path)
    out = tmp_path / "s.safetensors"
    args = ["calibrate", str(folders[0]), "--data", str(data), "--stats", "gram", "--out", str(out), "-q"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "gram:model.layers.1.self_attn.o_proj.weight" in load_file(str(out))
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "cached" in again.output
    bad = CliRunner().invoke(app, ["calibrate", str(folders[0]), "--data", str(data), "--stats", "hessian"])
    assert bad.exit_code == 2 and "unknown statistics" in bad.output
