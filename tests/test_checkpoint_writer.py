"""Output shards laid out from tensor metadata, written at their offsets in any order, read back by safetensors."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from modelfusion.checkpoint import TensorInfo
from modelfusion.checkpoint.shard_layout import ShardLayout, parse_size
from modelfusion.checkpoint.shard_writer import ShardWriter
from modelfusion.errors import UserError


def _tensors() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    out = {f"layers.{i}.w": torch.randn(10, 10, generator=g) for i in range(5)}  # 400 bytes each
    out["ids"] = torch.arange(7)
    out["half"] = torch.randn(3, generator=g).bfloat16()
    out["empty"] = torch.empty(0, 4)
    return out


def _write(folder, tensors: dict[str, torch.Tensor], max_bytes: int) -> ShardLayout:
    infos = [TensorInfo(n, tuple(t.shape), t.dtype, "") for n, t in tensors.items()]
    layout = ShardLayout(infos, max_bytes)
    writer = ShardWriter(folder, layout)
    try:
        for name in reversed(list(tensors)):  # any order
            writer.write(name, tensors[name])
        writer.sync()
    finally:
        writer.close()
    return layout


@pytest.mark.parametrize("max_bytes", [10**9, 900, 400])
def test_shards_round_trip_through_safetensors(tmp_path, max_bytes):
    tensors = _tensors()
    layout = _write(tmp_path, tensors, max_bytes)
    files = sorted(tmp_path.glob("*.safetensors"))
    assert [f.name for f in files] == sorted(s.filename for s in layout.shards)
    back = {}
    for f in files:
        back.update(load_file(f))
        assert f.stat().st_size == next(s.size for s in layout.shards if s.filename == f.name)
    assert back.keys() == tensors.keys()
    for name, t in tensors.items():
        assert back[name].dtype == t.dtype and torch.equal(back[name], t)
    if len(files) == 1:
        assert files[0].name == "model.safetensors" and layout.index_json() is None
    else:
        index = json.loads(layout.index_json())
        assert index["metadata"]["total_size"] == sum(t.numel() * t.element_size() for t in tensors.values())
        for name, file in index["weight_map"].items():
            assert name in load_file(tmp_path / file)


def test_shard_data_stays_under_the_limit_unless_one_tensor_is_larger(tmp_path):
    layout = _write(tmp_path, _tensors(), 900)
    for shard in layout.shards:
        data = sum(layout.placements[n].nbytes for n in shard.names)
        assert data <= 900
    assert len(layout.shards) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5GB", 5 * 10**9), ("500MB", 500 * 10**6), ("2GiB", 2 * 2**30), ("1.5 kb", 1500), (1024, 1024), ("77", 77)],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["5 parsecs", "", "-1GB", "0"])
def test_parse_size_rejects_nonsense(text):
    with pytest.raises(UserError):
        parse_size(text)
