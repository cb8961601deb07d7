"""Statistics files in a recipe: resolved and checked at plan time, read by the engine, given to the method."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import modelfusion
from modelfusion.checkpoint import open_checkpoint
from modelfusion.errors import PlanError
from modelfusion.plan import build_plan
from modelfusion.recipe import Recipe

SHAPES = {"layer.weight": (4, 3), "layer.bias": (4,), "norm.weight": (3,)}


def _write(root: Path, seed: int) -> tuple[Path, dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    tensors = {n: torch.randn(s, generator=g) for n, s in SHAPES.items()}
    folder = root / f"m{seed}"
    folder.mkdir()
    save_file(tensors, str(folder / "model.safetensors"))
    return folder, tensors


def _fisher_file(root: Path, name: str, stats: dict[str, torch.Tensor]) -> Path:
    path = root / f"{name}.safetensors"
    save_file({f"fisher:{k}": v for k, v in stats.items()}, str(path))
    return path


def _recipe(models: list[tuple[Path, Path | None]], method: str = "fisher") -> dict:
    entries = []
    for model, stats in models:
        entry = {"model": str(model), "parameters": {"weight": 1.0}}
        if stats is not None:
            entry["statistics"] = str(stats)
        entries.append(entry)
    return {"merge_method": method, "models": entries, "dtype": "float32"}


def _plan(recipe: dict):
    r = Recipe.model_validate(recipe)
    ckpts = {ref: open_checkpoint(ref, label=ref) for ref in r.model_paths()}
    return build_plan(r, ckpts)


def test_fisher_merge_reads_statistics_files(tmp_path):
    (a, ta), (b, tb) = _write(tmp_path, 1), _write(tmp_path, 2)
    g = torch.Generator().manual_seed(3)
    fa = {n: torch.rand(s, generator=g) for n, s in SHAPES.items()}
    fb = {n: torch.rand(s, generator=g) for n, s in SHAPES.items()}
    recipe = _recipe([(a, _fisher_file(tmp_path, "fa", fa)), (b, _fisher_file(tmp_path, "fb", fb))])
    recipe["parameters"] = {"fisher_floor": 0.0}
    modelfusion.merge(recipe, tmp_path / "out")
    out = load_file(str(tmp_path / "out" / "model.safetensors"))
    for name in SHAPES:
        expected = (fa[name] * ta[name] + fb[name] * tb[name]) / (fa[name] + fb[name])
        torch.testing.assert_close(out[name], expected)


def test_missing_file_entry_and_shape_reported_together(tmp_path):
    (a, _), (b, _), (c, _) = _write(tmp_path, 1), _write(tmp_path, 2), _write(tmp_path, 3)
    wrong = {n: torch.rand(s) for n, s in SHAPES.items()}
    wrong["layer.weight"] = torch.rand(3, 4)  # transposed
    del wrong["norm.weight"]
    recipe = _recipe([(a, tmp_path / "nowhere.safetensors"), (b, _fisher_file(tmp_path, "fb", wrong)), (c, None)])
    with pytest.raises(PlanError) as e:
        _plan(recipe)
    text = "\n".join(e.value.problems)
    assert "statistics file" in text and "nowhere.safetensors" in text and "not found" in text
    assert "entry 'fisher:layer.weight' has shape [3, 4], expected [4, 3]" in text
    assert "fb.safetensors' has no entry 'fisher:norm.weight'" in text
    assert f"needs the 'fisher' statistics of model {c}" in text


def test_regmean_grams_for_matrices_only_and_fallback_where_no_model_has_one(tmp_path):
    (a, ta), (b, tb) = _write(tmp_path, 1), _write(tmp_path, 2)
    g = torch.Generator().manual_seed(4)
    xs = [torch.randn(20, 3, generator=g) for _ in range(2)]
    for name, x in zip(("ga", "gb"), xs):
        save_file({"gram:layer.weight": x.T @ x}, str(tmp_path / f"{name}.safetensors"))
    recipe = _recipe([(a, tmp_path / "ga.safetensors"), (b, tmp_path / "gb.safetensors")], method="regmean")
    recipe["parameters"] = {"alpha": 1.0}
    plan = _plan(recipe)
    stats = {j.out.name: j.statistics for j in plan.jobs}
    assert set(stats["layer.weight"]) == {"gram"} and stats["layer.bias"] == {} and stats["norm.weight"] == {}
    modelfusion.merge(recipe, tmp_path / "out")
    out = load_file(str(tmp_path / "out" / "model.safetensors"))
    grams = [x.T @ x for x in xs]
    w = ta["layer.weight"] @ grams[0] + tb["layer.weight"] @ grams[1]
    torch.testing.assert_close(out["layer.weight"], w @ torch.linalg.inv(grams[0] + grams[1]), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out["layer.bias"], (ta["layer.bias"] + tb["layer.bias"]) / 2)


def test_regmean_gram_in_one_model_only_is_an_error(tmp_path):
    (a, _), (b, _) = _write(tmp_path, 1), _write(tmp_path, 2)
    save_file({"gram:layer.weight": torch.eye(3)}, str(tmp_path / "ga.safetensors"))
    save_file({"other": torch.eye(3)}, str(tmp_path / "gb.safetensors"))
    recipe = _recipe([(a, tmp_path / "ga.safetensors"), (b, tmp_path / "gb.safetensors")], method="regmean")
    with pytest.raises(PlanError, match=r"gb\.safetensors' has no entry 'gram:layer\.weight'"):
        _plan(recipe)


def test_fisher_tensor_in_no_models_file_is_the_weighted_average(tmp_path):
    """A float tensor no statistics file covers (a buffer: BatchNorm running statistics have no gradient, so
    `modelfusion calibrate` writes no Fisher for them) is averaged; the covered ones are Fisher-weighted."""
    (a, ta), (b, tb) = _write(tmp_path, 1), _write(tmp_path, 2)
    g = torch.Generator().manual_seed(5)
    fa = {n: torch.rand(s, generator=g) for n, s in SHAPES.items() if n != "norm.weight"}
    fb = {n: torch.rand(s, generator=g) for n, s in SHAPES.items() if n != "norm.weight"}
    recipe = _recipe([(a, _fisher_file(tmp_path, "fa", fa)), (b, _fisher_file(tmp_path, "fb", fb))])
    recipe["models"][1]["parameters"]["weight"] = 3.0
    recipe["parameters"] = {"fisher_floor": 0.0}
    modelfusion.merge(recipe, tmp_path / "out")
    out = load_file(str(tmp_path / "out" / "model.safetensors"))
    torch.testing.assert_close(out["norm.weight"], (ta["norm.weight"] + 3 * tb["norm.weight"]) / 4)
    expected = (fa["layer.weight"] * ta["layer.weight"] + 3 * fb["layer.weight"] * tb["layer.weight"]) / (
        fa["layer.weight"] + 3 * fb["layer.weight"]
    )
    torch.testing.assert_close(out["layer.weight"], expected)
