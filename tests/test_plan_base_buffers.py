"""Non-float buffers that only the base stores are copied from it, whatever order the models are listed in."""

from __future__ import annotations

import torch
from safetensors.torch import load_file, save_file

import modelfusion


def _save(folder, tensors):
    folder.mkdir()
    save_file(tensors, str(folder / "model.safetensors"))
    return folder


def test_buffer_only_in_base_is_copied_from_base(tmp_path):
    g = torch.Generator().manual_seed(0)
    w = [torch.randn(4, 3, generator=g) for _ in range(3)]
    pos = torch.arange(7, dtype=torch.int64).unsqueeze(0)
    base = _save(tmp_path / "base", {"encoder.layer.0.w": w[0], "embeddings.position_ids": pos})
    ft1 = _save(tmp_path / "ft1", {"encoder.layer.0.w": w[1]})
    ft2 = _save(tmp_path / "ft2", {"encoder.layer.0.w": w[2]})
    recipe = {
        "merge_method": "task_arithmetic",
        "base_model": str(base),
        "models": [
            {"model": str(ft1), "parameters": {"weight": 0.5}},
            {"model": str(ft2), "parameters": {"weight": 1.0}},
        ],
    }
    modelfusion.merge(recipe, tmp_path / "out", threads=1)
    out = load_file(str(tmp_path / "out" / "model.safetensors"))
    assert torch.equal(out["embeddings.position_ids"], pos)
    expected = w[0] + 0.5 * (w[1] - w[0]) + 1.0 * (w[2] - w[0])
    torch.testing.assert_close(out["encoder.layer.0.w"], expected, rtol=0, atol=1e-6)
