"""Write-behind in the shard writer: writeback of a shard is started each time WRITE_BEHIND_BYTES were written to
it, and an error it meets is reported by the final sync (an fsync error is reported only once, so a background
one must not be lost)."""

from __future__ import annotations

import ctypes

import pytest
import torch

from modelfusion.checkpoint import TensorInfo, shard_writer
from modelfusion.checkpoint.shard_layout import ShardLayout
from modelfusion.checkpoint.shard_writer import ShardWriter
from modelfusion.errors import OutputError


def _layout() -> tuple[ShardLayout, dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    tensors = {f"w{i}": torch.randn(64, 32, generator=g) for i in range(4)}  # 8 KiB each
    infos = [TensorInfo(n, tuple(t.shape), t.dtype, "") for n, t in tensors.items()]
    return ShardLayout(infos, 20_000), tensors


def _write_all(folder, layout: ShardLayout, tensors: dict[str, torch.Tensor]) -> None:
    writer = ShardWriter(folder, layout)
    try:
        for name, t in tensors.items():
            writer.write(name, t)
        writer.sync()
    finally:
        writer.close()


def test_writeback_starts_once_enough_bytes_gathered(tmp_path, monkeypatch):
    calls: list[tuple[int, int, int, int]] = []

    def fake(fd, offset, nbytes, flags):
        calls.append((fd, offset, nbytes, flags))
        return 0

    monkeypatch.setattr(shard_writer, "_sync_file_range", lambda: fake)
    monkeypatch.setattr(shard_writer, "WRITE_BEHIND_BYTES", 16 << 10)  # two 8 KiB tensors
    layout, tensors = _layout()
    assert len(layout.shards) == 2
    _write_all(tmp_path, layout, tensors)  # close() joins the thread: every queued range was handed over
    assert [(offset, nbytes) for _, offset, nbytes, _ in calls] == [(0, 0), (0, 0)]  # whole file, one call each
    assert {flags for *_, flags in calls} == {2}  # SYNC_FILE_RANGE_WRITE only: start writeback, never wait
    assert len({fd for fd, *_ in calls}) == 2


def test_a_writeback_error_fails_the_sync(tmp_path, monkeypatch):
    def failing(fd, offset, nbytes, flags):
        ctypes.set_errno(5)  # EIO
        return -1

    monkeypatch.setattr(shard_writer, "_sync_file_range", lambda: failing)
    monkeypatch.setattr(shard_writer, "WRITE_BEHIND_BYTES", 1)
    layout, tensors = _layout()
    writer = ShardWriter(tmp_path, layout)
    try:
        writer.write("w0", tensors["w0"])
        writer._behind.stop()  # let the background thread handle the range
        with pytest.raises(OutputError, match="Input/output error"):
            writer.sync()
    finally:
        writer.close()


def test_real_sync_file_range_where_available(tmp_path):
    layout, tensors = _layout()
    _write_all(tmp_path, layout, tensors)
    data = {s.filename: (tmp_path / s.filename).read_bytes() for s in layout.shards}
    for name, t in tensors.items():
        place = layout.placements[name]
        raw = data[layout.shards[place.shard].filename][place.offset : place.offset + place.nbytes]
        assert torch.equal(torch.frombuffer(bytearray(raw), dtype=torch.float32).reshape(t.shape), t)
