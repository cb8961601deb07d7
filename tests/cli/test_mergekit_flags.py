"""mergekit-yaml's merge flags on `modelfusion merge`, each with its meaning here (docs/recipes.md has the table)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

from modelfusion.cli.main import app

runner = CliRunner()
TOKENIZER = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt")


@pytest.fixture
def recipe(tiny_gpt2s, tmp_path) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"merge_method": "linear", "models": [{"model": str(p)} for p in tiny_gpt2s]}))
    return path


@pytest.fixture
def with_tokenizer(tiny_gpt2s, tmp_path) -> Path:
    """A recipe whose base model folder has tokenizer files."""
    base = tmp_path / "base"
    base.mkdir()
    for f in tiny_gpt2s[0].iterdir():
        (base / f.name).symlink_to(f)
    (base / "vocab.json").write_text('{"a": 0}')
    (base / "tokenizer_config.json").write_text("{}")
    path = tmp_path / "recipe.yaml"
    models = [{"model": str(base)}, {"model": str(tiny_gpt2s[1])}]
    path.write_text(yaml.safe_dump({"merge_method": "linear", "base_model": str(base), "models": models}))
    return path


def merge(recipe: Path, *flags: str):
    return runner.invoke(app, ["merge", str(recipe), str(recipe.parent / "out"), "-q", *flags])


def names(recipe: Path) -> set[str]:
    return {p.name for p in (recipe.parent / "out").iterdir()}


def test_copy_tokenizer_is_the_default_and_can_be_turned_off(with_tokenizer):
    assert merge(with_tokenizer).exit_code == 0
    assert {"vocab.json", "tokenizer_config.json"} <= names(with_tokenizer)
    result = merge(with_tokenizer, "--no-copy-tokenizer", "--overwrite")
    assert result.exit_code == 0, result.output
    assert not names(with_tokenizer) & set(TOKENIZER) and "config.json" in names(with_tokenizer)


def test_no_safe_serialization_is_refused_in_one_line(recipe):
    result = merge(recipe, "--no-safe-serialization")
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and "Traceback" not in result.output, result.output
    assert "--no-safe-serialization" in lines[0] and "safetensors" in lines[0]
    assert not (recipe.parent / "out").exists()


@pytest.mark.parametrize(
    "flags",
    [
        ["--safe-serialization"],
        ["--lazy-unpickle"],
        ["--low-cpu-memory"],
        ["--clone-tensors"],
        ["--trust-remote-code"],
        ["--no-cuda"],
        ["--quiet", "--random-seed", "7"],
        ["--num-threads", "1"],
    ],
)
def test_accepted_flags_leave_the_output_unchanged(recipe, flags, tiny_gpt2s):
    result = merge(recipe, *flags)
    assert result.exit_code == 0, result.output
    out = load_file(recipe.parent / "out" / "model.safetensors")
    a, b = (load_file(p / "model.safetensors") for p in tiny_gpt2s)
    for name in out:
        assert (out[name] == (a[name] + b[name]) / 2).all()


def test_cuda_means_device_cuda(recipe, monkeypatch):
    import modelfusion.api as api

    seen = {}

    def fake_merge(*args, **kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(api, "merge", fake_merge)
    merge(recipe, "--cuda")
    assert seen["device"] == "cuda"
    merge(recipe, "--cuda", "--device", "cuda:1")
    assert seen["device"] == "cuda:1"


def test_verbose_lists_the_files_written(recipe):
    result = merge(recipe, "-v")
    assert result.exit_code == 0, result.output
    assert "files:" in result.stderr and "model.safetensors" in result.stderr


def test_help_says_the_memory_flags_have_no_effect():
    result = runner.invoke(app, ["merge", "--help"], env={"COLUMNS": "200"})
    text = " ".join(result.output.split())
    assert "always read lazily" in text and "always bounded" in text and "never runs a model's code" in text
