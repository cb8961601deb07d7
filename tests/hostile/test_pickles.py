"""No code execution: a pickle whose __reduce__ creates a file is refused, and the file never appears."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from modelfusion.checkpoint import open_checkpoint
from modelfusion.errors import CheckpointError
from tests.hostile.conftest import assert_clean_failure, linear_recipe, run_cli, untouched
from tests.hostile.make_cases import good_pickle_model, malicious_pickle, model_state

FORMATS = ("zip", "legacy", "raw")


@pytest.mark.parametrize("fmt", FORMATS)
def test_payload_is_live_when_loaded_unsafely(fmt: str, tmp_path: Path) -> None:
    """Control: the case really runs code under a plain unpickler, so the refusal tests can fail."""
    marker = tmp_path / "PWNED"
    path = malicious_pickle(tmp_path / "evil.pt", marker, fmt)
    if fmt == "raw":
        pickle.loads(path.read_bytes())
    else:
        torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("suffix", [".bin", ".pt", ".pth"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_malicious_pickle_refused_without_running(fmt: str, suffix: str, tmp_path: Path, good: Path) -> None:
    marker = tmp_path / "PWNED"
    evil = malicious_pickle(tmp_path / "evil" / f"weights{suffix}", marker, fmt)
    recipe = linear_recipe(tmp_path, [good, evil])
    out = tmp_path / "out"
    with untouched(good, evil.parent):
        result = run_cli("merge", recipe, out, "-q")
    assert_clean_failure(result, out, evil.name)
    assert "refused" in result.output or "cannot load" in result.output
    assert not marker.exists()


def test_malicious_pytorch_model_bin_in_folder(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    malicious_pickle(tmp_path / "evil" / "pytorch_model.bin", marker, "zip")
    with pytest.raises(CheckpointError, match="could run code") as err:
        open_checkpoint(tmp_path / "evil")
    assert err.value.where == str(tmp_path / "evil" / "pytorch_model.bin")
    assert not marker.exists()


def test_plain_weights_pickle_still_loads(tmp_path: Path, good: Path) -> None:
    """The guard refuses code, not weights: a state dict saved with torch.save merges normally."""
    pkl = good_pickle_model(tmp_path / "pkl", seed=1)
    out = tmp_path / "out"
    with untouched(good, pkl.parent):
        result = run_cli("merge", linear_recipe(tmp_path, [good, pkl.parent]), out, "-q")
    assert result.exit_code == 0, result.output
    merged = load_file(str(out / "model.safetensors"))
    a, b = load_file(str(good / "model.safetensors")), model_state(1)
    for name, t in merged.items():
        torch.testing.assert_close(t, 0.5 * a[name] + 0.5 * b[name], rtol=0, atol=1e-6)
