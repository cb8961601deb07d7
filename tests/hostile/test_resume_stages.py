"""Resume of a multi-stage recipe: the stage that was interrupted (an intermediate one in the cache, or the last
one beside OUT) continues from its own journal, and the result is byte-identical to an uninterrupted run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from safetensors import safe_open

from modelfusion import merge
from modelfusion.checkpoint.publish import STAGING_PREFIX
from modelfusion.engine.journal import JOURNAL_NAME
from tests.hostile.conftest import leftovers, untouched
from tests.hostile.interrupt import interrupted_merge, tree_bytes
from tests.hostile.make_cases import good_model

TWO_STAGES = """\
name: soup
merge_method: linear
models:
  - model: m0
    parameters: {weight: 0.5}
  - model: m1
    parameters: {weight: 0.5}
---
merge_method: linear
models:
  - model: soup
    parameters: {weight: 0.7}
  - model: m2
    parameters: {weight: 0.3}
"""
OPTIONS = {"threads": 1, "out_shard_size": "20KB"}


@pytest.fixture
def setup(tmp_path: Path):
    """Three models, the recipe, and the bytes of an uninterrupted run (its cache removed again)."""
    models = [good_model(tmp_path / f"m{i}", seed=i, layers=4, hidden=32) for i in range(3)]
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(TWO_STAGES)
    cache = tmp_path / "cache"
    merge(recipe, tmp_path / "reference", cache_dir=cache, **OPTIONS)
    expected = tree_bytes(tmp_path / "reference")
    shutil.rmtree(cache)  # the runs below compute the first stage again, into the same cache folder
    with safe_open(str(models[0] / "model.safetensors"), "pt") as f:
        tensors = len(list(f.keys()))
    with untouched(*models):
        yield recipe, cache, expected, tensors


def _stages(recipe: Path, out: Path, cache: Path, **options) -> tuple[list[tuple], int]:
    calls: list[tuple] = []
    result = merge(recipe, out, cache_dir=cache, on_stage=lambda *a: calls.append(a), **OPTIONS, **options)
    return [(i, name, reused) for i, name, _, reused in calls], result.resumed


def test_interrupted_intermediate_stage_resumes_from_its_journal(setup, tmp_path: Path) -> None:
    recipe, cache, expected, _ = setup
    out = tmp_path / "out"
    interrupted_merge(recipe, out, 9, cache_dir=cache, **OPTIONS)
    (staging,) = [p for p in (cache / "stages").iterdir() if p.name.startswith(STAGING_PREFIX)]
    assert (staging / JOURNAL_NAME).is_file()
    calls, resumed = _stages(recipe, out, cache, resume=True)
    assert calls == [(0, "soup", False), (1, None, False)]
    assert resumed == 9
    assert tree_bytes(out) == expected
    assert leftovers(cache / "stages") == [] and leftovers(tmp_path) == []


def test_interrupted_last_stage_resumes_and_reuses_the_first(setup, tmp_path: Path) -> None:
    recipe, cache, expected, first_stage = setup
    out = tmp_path / "out"
    interrupted_merge(recipe, out, first_stage + 5, cache_dir=cache, **OPTIONS)
    assert len(leftovers(tmp_path)) == 1  # the last stage's staging folder, beside OUT
    calls, resumed = _stages(recipe, out, cache, resume=True)
    assert calls == [(0, "soup", True), (1, None, False)]
    assert resumed == 5
    assert tree_bytes(out) == expected
    assert leftovers(tmp_path) == []


def test_without_resume_an_interrupted_stage_starts_over(setup, tmp_path: Path) -> None:
    recipe, cache, expected, _ = setup
    out = tmp_path / "out"
    interrupted_merge(recipe, out, 9, cache_dir=cache, **OPTIONS)
    _, resumed = _stages(recipe, out, cache)
    assert resumed == 0
    assert tree_bytes(out) == expected
