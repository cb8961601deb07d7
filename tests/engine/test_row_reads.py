"""Streamed jobs read safetensors inputs block by block: partial reads, the NaN / Inf guard per block."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

import modelfusion.engine.execute as execute
from modelfusion import merge_state_dicts
from modelfusion.checkpoint.safetensors_file import SafetensorsFile
from modelfusion.errors import CheckpointError


def test_read_rows_is_the_slice_of_the_stored_tensor(tmp_path):
    t = torch.arange(7 * 5 * 3, dtype=torch.float32).view(7, 5, 3).to(torch.bfloat16)
    save_file({"t": t, "s": torch.tensor(2.0)}, str(tmp_path / "m.safetensors"))
    f = SafetensorsFile(tmp_path / "m.safetensors")
    try:
        for start, stop in [(0, 7), (2, 5), (6, 7), (5, 99), (4, 4)]:
            assert torch.equal(f.read_rows("t", start, stop), t[start:stop])
        assert torch.equal(f.read_rows("s", 0, 1), torch.tensor(2.0))
    finally:
        f.close()


def _save(folder, tensors):
    folder.mkdir()
    save_file(tensors, str(folder / "model.safetensors"))
    return folder


def test_a_nan_in_a_late_block_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(execute, "BLOCK_ELEMENTS", 16)
    good = torch.ones(40, 4)
    bad = good.clone()
    bad[37, 2] = float("nan")  # in the last block
    a = _save(tmp_path / "a", {"w": good})
    b = _save(tmp_path / "b", {"w": bad})
    from modelfusion.api import merge

    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"merge_method: linear\nmodels:\n  - model: {a}\n  - model: {b}\n")
    with pytest.raises(CheckpointError) as err:
        merge(recipe, tmp_path / "out")
    assert "holds NaN" in str(err.value) and str(b) in str(err.value)
    assert not (tmp_path / "out").exists()


def test_streamed_merge_from_files_equals_in_memory_merge(tmp_path, monkeypatch):
    g = torch.Generator().manual_seed(0)
    ms = [{"w": torch.randn(50, 8, generator=g).to(torch.bfloat16)} for _ in range(3)]
    folders = [_save(tmp_path / f"m{i}", m) for i, m in enumerate(ms)]
    expected = merge_state_dicts(ms[1:], method="ties", base=ms[0], weight=[1.0, 0.5], density=[0.4, 0.6])
    monkeypatch.setattr(execute, "BLOCK_ELEMENTS", 40)  # 10 blocks of 5 rows, each read from the files
    from modelfusion.api import merge

    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "merge_method: ties\n"
        f"base_model: {folders[0]}\n"
        "models:\n"
        f"  - model: {folders[1]}\n    parameters: {{weight: 1.0, density: 0.4}}\n"
        f"  - model: {folders[2]}\n    parameters: {{weight: 0.5, density: 0.6}}\n"
    )
    merge(recipe, tmp_path / "out")
    f = SafetensorsFile(tmp_path / "out" / "model.safetensors")
    try:
        assert torch.equal(f.read("w"), expected["w"])
    finally:
        f.close()


@pytest.mark.parametrize("value, weight", [(float("inf"), 0.5), (float("nan"), 0.0), (float("-inf"), 0.0)])
def test_linear_checks_its_output_and_still_names_the_input(tmp_path, monkeypatch, value, weight):
    # linear checks each output block, not each input block: Inf or NaN always reaches the output (0 * Inf = NaN)
    monkeypatch.setattr(execute, "BLOCK_ELEMENTS", 16)
    good = torch.ones(40, 4)
    bad = good.clone()
    bad[21, 1] = value
    a = _save(tmp_path / "a", {"w": good})
    b = _save(tmp_path / "b", {"w": bad})
    from modelfusion.api import merge

    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"merge_method: linear\nmodels:\n  - model: {a}\n    parameters: {{weight: 1.0}}\n"
        f"  - model: {b}\n    parameters: {{weight: {weight}}}\n"
    )
    with pytest.raises(CheckpointError) as err:
        merge(recipe, tmp_path / "out")
    assert "holds NaN or Inf" in str(err.value) and str(b) in str(err.value)


def test_an_overflowing_linear_merge_of_finite_inputs_is_not_an_input_error(tmp_path, monkeypatch):
    monkeypatch.setattr(execute, "BLOCK_ELEMENTS", 16)
    big = torch.full((8, 4), 3e38)
    a = _save(tmp_path / "a", {"w": big})
    b = _save(tmp_path / "b", {"w": big.clone()})
    from modelfusion.api import merge

    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"merge_method: linear\nparameters: {{normalize: false}}\nmodels:\n  - model: {a}\n  - model: {b}\n"
    )
    merge(recipe, tmp_path / "out")  # the sum overflows float32 to Inf, as before: no input holds NaN / Inf
    out = SafetensorsFile(tmp_path / "out" / "model.safetensors")
    try:
        assert torch.isinf(out.read("w")).all()
    finally:
        out.close()
