"""Multi-stage recipes: `---`-separated named stages, later ones using earlier names; intermediates cached."""

from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import load_file

from modelfusion.api import merge
from modelfusion.errors import PlanError, RecipeError

TWO_STAGES = """\
name: soup
merge_method: linear
dtype: float32
models:
  - model: m0
    parameters: {{weight: 1.0}}
  - model: m1
    parameters: {{weight: 1.0}}
---
merge_method: linear
dtype: float32
models:
  - model: soup
    parameters: {{weight: 1.0}}
  - model: m2
    parameters: {{weight: {w2}}}
"""


@pytest.fixture()
def workdir(tiny_llamas, tmp_path):
    """Copies of the three tiny llamas next to a recipe file (paths in recipes are relative to it)."""
    for i, src in enumerate(tiny_llamas):
        shutil.copytree(src, tmp_path / f"m{i}")
    return tmp_path


def _write(workdir, text, name="recipe.yaml"):
    path = workdir / name
    path.write_text(text)
    return path


def _sd(folder):
    return load_file(folder / "model.safetensors")


def test_two_stages_compute_the_composed_merge(workdir):
    calls = []
    recipe = _write(workdir, TWO_STAGES.format(w2=3.0))
    out = workdir / "out"
    merge(recipe, out, cache_dir=workdir / "cache", threads=1, on_stage=lambda *a: calls.append(a))
    s0, s1, s2 = (_sd(workdir / f"m{i}") for i in range(3))
    got = _sd(out)
    for name in s0:
        expected = ((s0[name] + s1[name]) / 2 + 3.0 * s2[name]) / 4.0
        torch.testing.assert_close(got[name], expected, rtol=0, atol=1e-6)
    (idx0, name0, folder0, reused0), (idx1, name1, folder1, _) = calls
    assert (idx0, name0, reused0, idx1, name1, folder1) == (0, "soup", False, 1, None, out)
    assert folder0.parent == workdir / "cache" / "stages" and folder0.name.startswith("soup-")
    mid = _sd(folder0)
    torch.testing.assert_close(mid["lm_head.weight"], (s0["lm_head.weight"] + s1["lm_head.weight"]) / 2)


def test_unchanged_stage_is_reused_and_changed_one_recomputed(workdir):
    cache = workdir / "cache"
    calls = []

    def run(text, out):
        calls.clear()
        merge(_write(workdir, text), workdir / out, cache_dir=cache, threads=1, on_stage=lambda *a: calls.append(a))
        return calls[0]

    _, _, first, reused = run(TWO_STAGES.format(w2=3.0), "a")
    assert not reused
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    _, _, again, reused = run(TWO_STAGES.format(w2=1.0), "b")  # only the final stage changed
    assert reused and again == first and (first / "model.safetensors").stat().st_mtime_ns == stamp
    s0, s1, s2 = (_sd(workdir / f"m{i}") for i in range(3))
    name = "model.layers.1.mlp.down_proj.weight"
    expected = ((s0[name] + s1[name]) / 2 + s2[name]) / 2
    torch.testing.assert_close(_sd(workdir / "b")[name], expected, rtol=0, atol=1e-6)

    changed = TWO_STAGES.format(w2=1.0).replace(
        "- model: m1\n    parameters: {weight: 1.0}", "- model: m1\n    parameters: {weight: 3.0}"
    )
    _, _, third, reused = run(changed, "c")
    assert not reused and third != first
    expected = ((s0[name] + 3 * s1[name]) / 4 + s2[name]) / 2
    torch.testing.assert_close(_sd(workdir / "c")[name], expected, rtol=0, atol=1e-6)

    # an input model edited on disk (new mtime / size) changes the key of every stage that depends on it
    shutil.copy2(workdir / "m0" / "config.json", workdir / "m0" / "extra.json")
    _, _, fourth, reused = run(changed, "d")
    assert not reused and fourth not in (first, third)


def test_error_in_a_later_stage_stops_before_anything_is_written(workdir):
    bad = TWO_STAGES.format(w2=1.0).replace(
        "merge_method: linear\ndtype: float32\nmodels:\n  - model: soup",
        "merge_method: linear\ndtype: float32\nmodels:\n  - model: soup\n    parameters: {weigth: 2}\n"
        "  - model: nowhere",
    )
    with pytest.raises(PlanError) as e:
        merge(_write(workdir, bad), workdir / "out", cache_dir=workdir / "cache")
    assert "nowhere" in str(e.value) and "stage 2" in str(e.value)
    assert not (workdir / "cache").exists() and not (workdir / "out").exists()

    wrong_param = TWO_STAGES.format(w2=1.0).replace("{weight: 1.0}\n  - model: m2", "{weigth: 1.0}\n  - model: m2")
    with pytest.raises(PlanError) as e:
        merge(_write(workdir, wrong_param), workdir / "out", cache_dir=workdir / "cache")
    assert "weigth" in str(e.value) and "did you mean 'weight'" in str(e.value)
    assert not (workdir / "cache").exists()


def test_stage_order_and_names_are_checked(workdir):
    stage = "name: {}\nmerge_method: linear\nmodels:\n  - model: {}\n"
    later = stage.format("a", "b") + "---\n" + stage.format("b", "m0") + "---\n" + stage.format("c", "a")
    with pytest.raises(RecipeError, match="uses stage 'b', which comes after it"):
        merge(_write(workdir, later), workdir / "out", cache_dir=workdir / "cache")
    dup = stage.format("a", "m0") + "---\n" + stage.format("a", "a")
    with pytest.raises(RecipeError, match="used more than once"):
        merge(_write(workdir, dup), workdir / "out", cache_dir=workdir / "cache")


def test_dry_run_plans_every_stage_and_writes_nothing(workdir):
    result = merge(
        _write(workdir, TWO_STAGES.format(w2=3.0)), workdir / "out", cache_dir=workdir / "cache", dry_run=True
    )
    n = len(_sd(workdir / "m0"))
    assert result.out_dir is None and result.summary.tensors == n
    assert not (workdir / "cache").exists() and not (workdir / "out").exists()
