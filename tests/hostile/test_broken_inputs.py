"""Broken checkpoints: a clear error naming the file, exit 2, no traceback, no output, inputs untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from modelfusion.checkpoint import open_checkpoint
from modelfusion.errors import CheckpointError
from tests.hostile.conftest import assert_clean_failure, leftovers, linear_recipe, run_cli, untouched
from tests.hostile.make_cases import BROKEN_MODELS, good_model, nan_model, sharded_model


@pytest.mark.parametrize("case", list(BROKEN_MODELS))
def test_broken_model_is_refused_cleanly(case: str, tmp_path: Path, good: Path) -> None:
    build, fragment = BROKEN_MODELS[case]
    bad = tmp_path / "bad"
    at_fault = build(bad)
    recipe = linear_recipe(tmp_path, [good, bad])
    out = tmp_path / "out"
    with untouched(good, bad, recipe.parent / "recipe.yaml"):
        result = run_cli("merge", recipe, out, "-q", "-j", "2")
    assert_clean_failure(result, out, fragment, at_fault.name)


def test_nonfinite_allowed_on_request(tmp_path: Path, good: Path) -> None:
    bad = tmp_path / "bad"
    nan_model(bad)
    recipe = linear_recipe(tmp_path, [good, bad])
    out = tmp_path / "out"
    with untouched(good, bad):
        result = run_cli("merge", recipe, out, "-q", "--allow-nonfinite")
    assert result.exit_code == 0, result.output
    merged = load_file(str(out / "model.safetensors"))
    a, b = load_file(str(good / "model.safetensors")), load_file(str(bad / "model.safetensors"))
    for name, t in merged.items():
        torch.testing.assert_close(t, 0.5 * a[name] + 0.5 * b[name], equal_nan=True, rtol=0, atol=1e-6)
    assert torch.isnan(merged["model.layers.1.mlp.up_proj.weight"][3, 5])
    assert torch.isfinite(merged["model.layers.1.mlp.up_proj.weight"]).sum() == 16 * 16 - 1


def test_nonfinite_error_in_api(tmp_path: Path, good: Path) -> None:
    from modelfusion import merge

    bad = tmp_path / "bad"
    path = nan_model(bad)
    recipe = linear_recipe(tmp_path, [good, bad])
    with pytest.raises(CheckpointError, match="NaN or Inf") as err:
        merge(recipe, tmp_path / "out", threads=2)
    assert err.value.where == str(path)
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []
    merge(recipe, tmp_path / "out", allow_nonfinite=True)
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_hf_cache_style_symlinked_shards_are_followed(tmp_path: Path) -> None:
    """The '../' check is on the index's text: shards that are symlinks into ../../blobs (HF cache) load."""
    real = sharded_model(tmp_path / "blobs_src", seed=3)
    snap = tmp_path / "snapshots" / "abc"
    snap.mkdir(parents=True)
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    for f in real.iterdir():
        (blobs / f.name).write_bytes(f.read_bytes())
        (snap / f.name).symlink_to(Path("../..") / "blobs" / f.name)
    with untouched(blobs, snap), open_checkpoint(snap) as ckpt:
        expected = {**load_file(str(real / "model-00001-of-00002.safetensors"))}
        expected.update(load_file(str(real / "model-00002-of-00002.safetensors")))
        assert set(ckpt.infos) == set(expected)
        for name, t in expected.items():
            assert torch.equal(ckpt.read(name), t)


def test_valid_model_passes_config_check(tmp_path: Path, good: Path, tiny_llamas, tiny_berts, tiny_gpt2s) -> None:
    """The generic config check accepts consistent Llama-, BERT- and GPT-2-style checkpoints (transformers-made)."""
    other = good_model(tmp_path / "other", seed=5)
    out = tmp_path / "out"
    with untouched(good, other):
        assert run_cli("merge", linear_recipe(tmp_path, [good, other]), out, "-q").exit_code == 0
    for kind, models in (("llama", tiny_llamas[:2]), ("bert", tiny_berts), ("gpt2", tiny_gpt2s)):
        recipe = linear_recipe(tmp_path, models, f"{kind}.yaml")
        with untouched(*models):
            result = run_cli("merge", recipe, tmp_path / f"o{kind}", "--dry-run")
        assert result.exit_code == 0, result.output
