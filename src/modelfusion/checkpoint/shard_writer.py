"""Write tensors into pre-laid-out safetensors shards with positioned writes (os.pwrite), thread-safely."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from modelfusion.checkpoint.shard_layout import ShardLayout
from modelfusion.errors import OutputError


def tensor_bytes(tensor: torch.Tensor) -> memoryview:
    """The raw little-endian bytes of a tensor, without a copy when it is already contiguous."""
    flat = tensor.detach().contiguous().reshape(-1)
    if flat.numel() == 0:
        return memoryview(b"")
    return memoryview(flat.view(torch.uint8).numpy())


class ShardWriter:
    """Creates each shard file with its header and full size; `write(name, t)` fills the tensor's bytes."""

    def __init__(self, folder: Path, layout: ShardLayout, fresh: bool = True) -> None:
        self.folder = folder
        self.layout = layout
        self._fds: list[int] = []
        try:
            for shard in layout.shards:
                path = folder / shard.filename
                flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if fresh else 0)
                fd = os.open(path, flags, 0o644)
                self._fds.append(fd)
                if fresh:
                    self._pwrite_all(fd, memoryview(shard.header), 0, path)
                    os.ftruncate(fd, shard.size)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _pwrite_all(fd: int, data: memoryview, offset: int, path: Path) -> None:
        data = data.cast("B") if data.format != "B" else data
        try:
            while len(data):
                n = os.pwrite(fd, data, offset)
                data = data[n:]
                offset += n
        except OSError as e:
            raise OutputError(f"cannot write: {e.strerror or e}", where=str(path)) from None

    def write(self, name: str, tensor: torch.Tensor) -> None:
        place = self.layout.placements[name]
        data = tensor_bytes(tensor)
        if len(data) != place.nbytes:
            raise RuntimeError(f"{name}: {len(data)} bytes to write, {place.nbytes} laid out")
        shard = self.layout.shards[place.shard]
        self._pwrite_all(self._fds[place.shard], data, place.offset, self.folder / shard.filename)

    def sync(self) -> None:
        for fd in self._fds:
            os.fsync(fd)

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []
