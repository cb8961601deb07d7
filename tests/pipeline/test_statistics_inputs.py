"""Statistics files are inputs like models: found beside the recipe, closed after the merge, and part of what
identifies a merge for resume and for the multi-stage cache."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from modelfusion import merge
from modelfusion.errors import OutputError

SHAPES = {"layer.weight": (4, 3), "layer.bias": (4,), "norm.weight": (3,)}


def _model(folder: Path, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    tensors = {n: torch.randn(s, generator=g) for n, s in SHAPES.items()}
    folder.mkdir(parents=True)
    save_file(tensors, str(folder / "model.safetensors"))
    return tensors


def _fisher(path: Path, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    stats = {n: torch.rand(s, generator=g) + 0.1 for n, s in SHAPES.items()}
    save_file({f"fisher:{k}": v for k, v in stats.items()}, str(path))
    return stats


FISHER = """\
merge_method: fisher
dtype: float32
parameters: {fisher_floor: 0.0}
models:
  - model: a
    statistics: a.fisher.safetensors
  - model: b
    statistics: b.fisher.safetensors
"""


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict, dict]:
    """A recipe folder holding two models and their Fisher files (named relative to the recipe)."""
    root = tmp_path / "project"
    models = {k: _model(root / k, seed) for k, seed in (("a", 1), ("b", 2))}
    stats = {k: _fisher(root / f"{k}.fisher.safetensors", seed) for k, seed in (("a", 3), ("b", 4))}
    (root / "recipe.yaml").write_text(FISHER, encoding="utf-8")
    return root, models, stats


def _expected(models: dict, stats: dict) -> dict[str, torch.Tensor]:
    """sum_i F_i theta_i / sum_i F_i, per entry."""
    return {
        n: (stats["a"][n] * models["a"][n] + stats["b"][n] * models["b"][n]) / (stats["a"][n] + stats["b"][n])
        for n in SHAPES
    }


def _open_fds_to(path: Path) -> int:
    target = str(path.resolve())
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == target
        except OSError:
            pass
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_statistics_beside_the_recipe_are_found_and_closed(project, tmp_path, monkeypatch):
    root, models, stats = project
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # neither the models nor the statistics are relative to the working directory
    merge(root / "recipe.yaml", tmp_path / "out", threads=1)
    out = load_file(str(tmp_path / "out" / "model.safetensors"))
    for name, want in _expected(models, stats).items():
        torch.testing.assert_close(out[name], want)
    gc.collect()
    assert _open_fds_to(root / "a.fisher.safetensors") == 0
    assert _open_fds_to(root / "b.fisher.safetensors") == 0


def test_changed_statistics_file_refuses_resume(project, tmp_path):
    root, models, _ = project
    out = tmp_path / "out"
    seen: list[str] = []

    def stop(job) -> None:
        seen.append(job.out.name)
        if len(seen) == 2:
            raise KeyboardInterrupt

    gc.disable()
    try:
        with pytest.raises(KeyboardInterrupt):
            merge(root / "recipe.yaml", out, threads=1, on_progress=stop)
    finally:
        gc.enable()
    new_stats = {"a": _fisher(root / "a.fisher.safetensors", 30), "b": _fisher(root / "b.fisher.safetensors", 4)}
    with pytest.raises(OutputError, match="other inputs"):  # the journal was made with other statistics
        merge(root / "recipe.yaml", out, threads=1, resume=True)
    merge(root / "recipe.yaml", out, threads=1)  # starting over uses the new statistics
    got = load_file(str(out / "model.safetensors"))
    for name, want in _expected(models, new_stats).items():
        torch.testing.assert_close(got[name], want)


def test_unchanged_statistics_resume(project, tmp_path):
    root, models, stats = project
    out = tmp_path / "out"
    seen: list[str] = []

    def stop(job) -> None:
        seen.append(job.out.name)
        if len(seen) == 2:
            raise KeyboardInterrupt

    gc.disable()
    try:
        with pytest.raises(KeyboardInterrupt):
            merge(root / "recipe.yaml", out, threads=1, on_progress=stop)
    finally:
        gc.enable()
    result = merge(root / "recipe.yaml", out, threads=1, resume=True)
    assert result.resumed >= 1
    got = load_file(str(out / "model.safetensors"))
    for name, want in _expected(models, stats).items():
        torch.testing.assert_close(got[name], want)


TWO_STAGES = (
    FISHER.replace("merge_method: fisher", "name: soup\nmerge_method: fisher")
    + """---
merge_method: linear
dtype: float32
models:
  - model: soup
    parameters: {weight: 1.0}
"""
)


def test_changed_statistics_file_invalidates_the_stage_cache(project, tmp_path):
    root, models, _ = project
    (root / "stages.yaml").write_text(TWO_STAGES, encoding="utf-8")
    calls: list[tuple] = []

    def run(out: str) -> dict[str, torch.Tensor]:
        merge(
            root / "stages.yaml",
            tmp_path / out,
            threads=1,
            cache_dir=tmp_path / "cache",
            on_stage=lambda *a: calls.append(a),
        )
        return load_file(str(tmp_path / out / "model.safetensors"))

    run("out1")
    run("out2")
    assert [c[3] for c in calls] == [False, False, True, False]  # the second run reuses stage 1
    new_stats = {"a": _fisher(root / "a.fisher.safetensors", 30), "b": _fisher(root / "b.fisher.safetensors", 4)}
    calls.clear()
    got = run("out3")
    assert calls[0][3] is False  # stage 1 computed again
    for name, want in _expected(models, new_stats).items():
        torch.testing.assert_close(got[name], want)
