"""Resume from the journal, in-process: an interruption (KeyboardInterrupt after k tensors) keeps the staging
folder; resume=True reuses exactly the tensors whose bytes still match their checksum."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from modelfusion import merge
from modelfusion.checkpoint.publish import STAGING_PREFIX
from modelfusion.checkpoint.shard_layout import ShardLayout
from modelfusion.engine.journal import JOURNAL_NAME
from modelfusion.errors import OutputError
from tests.hostile.conftest import leftovers, linear_recipe, untouched
from tests.hostile.make_cases import good_model

STOP_AFTER = 9


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def setup(tmp_path: Path):
    models = [good_model(tmp_path / f"m{i}", seed=i, layers=4, hidden=32) for i in range(2)]
    recipe = linear_recipe(tmp_path, models)
    reference = tmp_path / "reference"
    merge(recipe, reference, threads=1, out_shard_size="20KB")
    with untouched(*models):  # every test here leaves the inputs' bytes and mtimes as they were
        yield models, recipe, tree_bytes(reference)


def interrupt(recipe: Path, out: Path) -> Path:
    """Run the merge and stop it with KeyboardInterrupt after STOP_AFTER tensors; return the staging folder."""
    seen = []

    def stop(job) -> None:
        seen.append(job.out.name)
        if len(seen) == STOP_AFTER:
            raise KeyboardInterrupt

    gc.disable()  # else a collection during the raise can hand the KeyboardInterrupt to hypothesis's gc hook
    try:
        with pytest.raises(KeyboardInterrupt):
            merge(recipe, out, threads=1, out_shard_size="20KB", on_progress=stop)
    finally:
        gc.enable()
    assert not out.exists()
    (staging,) = [p for p in out.parent.iterdir() if p.name.startswith(STAGING_PREFIX)]
    return staging


def test_resume_reuses_journal_and_is_bit_identical(setup, tmp_path: Path) -> None:
    _, recipe, expected = setup
    out = tmp_path / "out"
    interrupt(recipe, out)
    result = merge(recipe, out, threads=2, out_shard_size="20KB", resume=True)
    assert result.resumed == STOP_AFTER
    assert tree_bytes(out) == expected
    assert leftovers(tmp_path) == []


def test_corrupted_tensor_is_redone(setup, tmp_path: Path) -> None:
    _, recipe, expected = setup
    out = tmp_path / "out"
    staging = interrupt(recipe, out)
    first = (staging / JOURNAL_NAME).read_text().splitlines()[1].split("\t")[0]
    name = first.split('"t":"')[1].split('"')[0]
    layout_offsets = _placement(recipe, name)
    shard, offset = layout_offsets
    with open(staging / shard, "r+b") as f:  # flip one byte of a recorded tensor
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))
    result = merge(recipe, out, threads=1, out_shard_size="20KB", resume=True)
    assert result.resumed == STOP_AFTER - 1
    assert tree_bytes(out) == expected


def _placement(recipe: Path, name: str) -> tuple[str, int]:
    """Shard file and absolute offset of `name` in the output (from the plan's layout)."""
    from modelfusion.pipeline import MergeOptions, load_stages, plan_stages, resolve_stages

    specs = resolve_stages(load_stages(recipe), recipe.parent / "out", MergeOptions(threads=1))
    with plan_stages(specs, random_seed=0) as plans:
        layout = ShardLayout(plans.final.plan.out_tensors, 20_000)
    place = layout.placements[name]
    return layout.shards[place.shard].filename, place.offset


def test_torn_journal_line_is_ignored(setup, tmp_path: Path) -> None:
    _, recipe, expected = setup
    out = tmp_path / "out"
    staging = interrupt(recipe, out)
    with open(staging / JOURNAL_NAME, "ab") as f:
        f.write(b'{"t":"model.norm.weight","n":128,"cr')  # a write cut short by the crash
    result = merge(recipe, out, threads=1, out_shard_size="20KB", resume=True)
    assert result.resumed == STOP_AFTER
    assert tree_bytes(out) == expected


def test_resume_refuses_a_journal_from_another_recipe(setup, tmp_path: Path) -> None:
    _, recipe, expected = setup
    out = tmp_path / "out"
    interrupt(recipe, out)
    other = tmp_path / "other.yaml"
    other.write_text(recipe.read_text().replace("weight: 0.5", "weight: 0.7", 1))
    with pytest.raises(OutputError, match="another recipe"):
        merge(other, out, out_shard_size="20KB", resume=True)
    merge(recipe, out, out_shard_size="20KB", resume=True)
    assert tree_bytes(out) == expected


def test_resume_refuses_when_an_input_changed(setup, tmp_path: Path) -> None:
    models, recipe, _ = setup
    out = tmp_path / "out"
    interrupt(recipe, out)
    weights = models[0] / "model.safetensors"
    st = os.stat(weights)
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    with pytest.raises(OutputError, match="other inputs"):
        merge(recipe, out, out_shard_size="20KB", resume=True)
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_resume_without_interrupted_run_merges_from_scratch(setup, tmp_path: Path) -> None:
    _, recipe, expected = setup
    out = tmp_path / "out"
    result = merge(recipe, out, out_shard_size="20KB", resume=True)
    assert result.resumed == 0
    assert tree_bytes(out) == expected


def test_fresh_run_discards_an_interrupted_one(setup, tmp_path: Path) -> None:
    _, recipe, expected = setup
    out = tmp_path / "out"
    interrupt(recipe, out)
    result = merge(recipe, out, out_shard_size="20KB")
    assert result.resumed == 0
    assert tree_bytes(out) == expected
    assert leftovers(tmp_path) == []
