"""Opening checkpoints: HF folders (safetensors / bin, single / sharded), lone files, in-memory state dicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from modelfusion.checkpoint import open_checkpoint
from modelfusion.errors import CheckpointError


def _state(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "model.embed_tokens.weight": torch.randn(16, 4, generator=g),
        "model.layers.0.mlp.up_proj.weight": torch.randn(8, 4, generator=g).bfloat16(),
        "model.layers.1.mlp.up_proj.weight": torch.randn(8, 4, generator=g).half(),
        "model.position_ids": torch.arange(6),
        "lm_head.weight": torch.randn(16, 4, generator=g),
    }


def _sharded(folder: Path, state: dict[str, torch.Tensor], suffix: str) -> Path:
    """Two shards plus an index, as save_pretrained writes them (safetensors or pytorch_model.bin)."""
    folder.mkdir()
    names = sorted(state)
    parts = [names[:2], names[2:]]
    weight_map = {}
    for i, part in enumerate(parts):
        if suffix == "safetensors":
            file = f"model-{i + 1:05d}-of-00002.safetensors"
            save_file({n: state[n] for n in part}, folder / file)
        else:
            file = f"pytorch_model-{i + 1:05d}-of-00002.bin"
            torch.save({n: state[n] for n in part}, folder / file)
        weight_map.update(dict.fromkeys(part, file))
    index = "model.safetensors.index.json" if suffix == "safetensors" else "pytorch_model.bin.index.json"
    (folder / index).write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "num_hidden_layers": 2}))
    return folder


def _layouts(tmp_path: Path, state: dict[str, torch.Tensor]) -> dict[str, Path | dict]:
    single_safe = tmp_path / "safe"
    single_safe.mkdir()
    save_file(state, single_safe / "model.safetensors")
    single_bin = tmp_path / "bin"
    single_bin.mkdir()
    torch.save(state, single_bin / "pytorch_model.bin")
    torch.save({"epoch": 3, "model_state_dict": state}, tmp_path / "ckpt.pt")
    save_file(state, tmp_path / "lone.safetensors")
    return {
        "safetensors folder": single_safe,
        "bin folder": single_bin,
        "sharded safetensors": _sharded(tmp_path / "shard_safe", state, "safetensors"),
        "sharded bin": _sharded(tmp_path / "shard_bin", state, "bin"),
        "nested .pt file": tmp_path / "ckpt.pt",
        "lone .safetensors file": tmp_path / "lone.safetensors",
        "state dict": state,
    }


def test_every_layout_gives_the_same_names_shapes_dtypes_and_values(tmp_path):
    state = _state()
    for label, source in _layouts(tmp_path, state).items():
        with open_checkpoint(source, label=label) as ckpt:
            assert set(ckpt.infos) == set(state), label
            for name, tensor in state.items():
                info = ckpt.infos[name]
                assert (info.shape, info.dtype) == (tuple(tensor.shape), tensor.dtype), (label, name)
                assert torch.equal(ckpt.read(name), tensor), (label, name)


def test_config_is_read_from_the_folder(tmp_path):
    with open_checkpoint(_sharded(tmp_path / "m", _state(), "safetensors")) as ckpt:
        assert ckpt.config == {"model_type": "llama", "num_hidden_layers": 2}
        assert ckpt.folder == tmp_path / "m"
    save_file(_state(), tmp_path / "lone.safetensors")
    with open_checkpoint(tmp_path / "lone.safetensors") as ckpt:
        assert ckpt.config is None and ckpt.folder is None


def test_pickle_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"weights": torch.zeros(2), "payload": Path("/etc/passwd")}, path)
    with pytest.raises(CheckpointError, match="refused"):
        open_checkpoint(path)


def test_index_pointing_at_a_missing_shard_is_named(tmp_path):
    folder = _sharded(tmp_path / "m", _state(), "safetensors")
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointError, match="does not exist") as exc:
        open_checkpoint(folder)
    assert "model.safetensors.index.json" in str(exc.value)


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda p: p / "missing", "no such file or folder"),
        (lambda p: (p / "weights.txt").write_text("x") and p / "weights.txt", "unsupported file type"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "no weights found"),
        (lambda p: (p / "bad.safetensors").write_bytes(b"\x10\x00") and p / "bad.safetensors", "not a safetensors"),
    ],
)
def test_bad_paths_are_checkpoint_errors_naming_the_path(tmp_path, make, pattern):
    path = make(tmp_path)
    with pytest.raises(CheckpointError, match=pattern) as exc:
        open_checkpoint(path)
    assert str(path) in str(exc.value)


def test_in_memory_state_dict_rejects_non_tensors():
    with pytest.raises(CheckpointError, match="not a tensor"):
        open_checkpoint({"w": [1, 2, 3]})


def test_safetensors_folder_is_preferred_over_bin_when_both_exist(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    save_file({"w": torch.ones(2)}, folder / "model.safetensors")
    torch.save({"w": torch.zeros(2)}, folder / "pytorch_model.bin")
    with open_checkpoint(folder) as ckpt:
        assert torch.equal(ckpt.read("w"), torch.ones(2))
