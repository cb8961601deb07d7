"""Outputs are safe: never inside an input, never replaced before the new one is complete, disk full is clean."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from modelfusion import merge
from modelfusion.checkpoint.publish import lock_staging, make_staging, staging_key, unlock_staging
from modelfusion.errors import OutputError
from tests.hostile.conftest import assert_clean_failure, leftovers, linear_recipe, run_cli, untouched
from tests.hostile.make_cases import good_model, nan_model


def _expected(a: Path, b: Path) -> dict[str, torch.Tensor]:
    ta, tb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    return {n: 0.5 * ta[n] + 0.5 * tb[n] for n in ta}


def _assert_merged(out: Path, expected: dict[str, torch.Tensor]) -> None:
    got = load_file(str(out / "model.safetensors"))
    assert set(got) == set(expected)
    for n, t in got.items():
        torch.testing.assert_close(t, expected[n], rtol=0, atol=1e-6)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path, Path]:
    a, b = good_model(tmp_path / "a", seed=0), good_model(tmp_path / "b", seed=1)
    return a, b, linear_recipe(tmp_path, [a, b])


@pytest.mark.parametrize("where", ["equal", "inside", "contains"])
def test_output_overlapping_an_input_is_refused(where: str, pair, tmp_path: Path) -> None:
    a, b, recipe = pair
    out = {"equal": a, "inside": a / "merged", "contains": tmp_path}[where]
    with untouched(a, b):
        result = run_cli("merge", recipe, out, "-q", "--overwrite")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "input" in result.output and "choose another path" in result.output
    assert not (a / "merged").exists() and leftovers(tmp_path) == [] and leftovers(a) == []


def test_existing_output_refused_without_overwrite(pair, tmp_path: Path) -> None:
    a, b, recipe = pair
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with untouched(a, b, out):
        result = run_cli("merge", recipe, out, "-q")
    assert result.exit_code == 2 and "already exists" in result.output and "--overwrite" in result.output
    assert leftovers(tmp_path) == []


def test_overwrite_replaces_only_when_complete(pair, tmp_path: Path) -> None:
    a, b, recipe = pair
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old output")
    bad = tmp_path / "bad"
    nan_model(bad)
    failing = linear_recipe(tmp_path, [a, bad], "failing.yaml")
    with untouched(a, b, bad, out):  # a failed merge leaves the old output exactly as it was
        result = run_cli("merge", failing, out, "-q", "--overwrite")
    assert result.exit_code == 2 and "NaN" in result.output
    assert leftovers(tmp_path) == []
    with untouched(a, b):
        result = run_cli("merge", recipe, out, "-q", "--overwrite")
    assert result.exit_code == 0, result.output
    assert not (out / "keep.txt").exists()
    _assert_merged(out, _expected(a, b))
    assert leftovers(tmp_path) == []


def test_disk_full_during_write_is_clean(pair, tmp_path: Path, monkeypatch) -> None:
    """ENOSPC from the 5th tensor write: clean OutputError, temp files gone, previous output intact."""
    a, b, recipe = pair
    out = tmp_path / "out"
    merge(recipe, out)
    calls = {"n": 0}
    real_pwrite = os.pwrite

    def full_disk(fd, data, offset):
        calls["n"] += 1
        if calls["n"] > 5:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", full_disk)
    with untouched(a, b, out), pytest.raises(OutputError, match="No space left on device"):
        merge(recipe, out, overwrite=True, threads=2)
    assert calls["n"] > 5
    assert leftovers(tmp_path) == []


def _can_mount_tmpfs(target: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(target)], capture_output=True)
    return r.returncode == 0


def test_real_full_filesystem(tmp_path: Path) -> None:
    """A real ENOSPC: a 330 KB merge into a 64 KiB tmpfs (needs root; skipped elsewhere, the test above runs)."""
    a, b = (good_model(tmp_path / f"big{i}", seed=i, layers=4, hidden=64) for i in range(2))
    recipe = linear_recipe(tmp_path, [a, b])
    small = tmp_path / "small"
    small.mkdir()
    if not _can_mount_tmpfs(small):
        pytest.skip("cannot mount a tmpfs here")
    try:
        out = small / "out"
        with untouched(a, b):
            result = run_cli("merge", recipe, out, "-q")
        assert_clean_failure(result, out, "No space left on device")
        assert list(small.iterdir()) == []
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_concurrent_merge_into_same_output_is_refused(pair, tmp_path: Path) -> None:
    a, b, recipe = pair
    out = tmp_path / "out"
    staging = make_staging(out, key=staging_key(out))
    fd = lock_staging(staging)
    try:
        with untouched(a, b):
            result = run_cli("merge", recipe, out, "-q")
        assert result.exit_code == 2 and "another modelfusion merge" in result.output
        assert staging.exists() and not out.exists()
    finally:
        unlock_staging(fd)
        shutil.rmtree(staging)
