"""Write tensors into pre-laid-out safetensors shards with positioned writes (os.pwrite), thread-safely.

Write-behind: after each tensor's bytes are written, a background thread asks the kernel to start writing
that range to the disk (Linux `sync_file_range(SYNC_FILE_RANGE_WRITE)`, which does not wait for it). The disk
then works while the merge computes, and the `fsync` that makes the shards durable (`sync`) finds little
left to write. Durability still rests on `sync` alone: write-behind only changes when the pages are written.
"""

from __future__ import annotations

import ctypes
import os
import queue
import sys
import threading
from functools import cache
from pathlib import Path

import torch

from modelfusion.checkpoint.shard_layout import ShardLayout
from modelfusion.errors import OutputError

_SYNC_FILE_RANGE_WRITE = 2


def tensor_bytes(tensor: torch.Tensor) -> memoryview:
    """The raw little-endian bytes of a tensor, without a copy when it is already contiguous."""
    flat = tensor.detach().contiguous().reshape(-1)
    if flat.numel() == 0:
        return memoryview(b"")
    return memoryview(flat.view(torch.uint8).numpy())


@cache
def _sync_file_range() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """libc's sync_file_range (Linux), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # The running process's own symbols, libc among them: `ctypes.util.find_library` would run ldconfig.
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


WRITE_BEHIND_BYTES = 16 << 20
"""Writeback of a shard starts once this many bytes were written to it since the last start: many small
tensors make one request, not one each (20,000 tiny tensors would otherwise be 20,000 small disk writes)."""


class WriteBehind:
    """A daemon thread that starts the disk writeback of written files; `stop` returns the first error."""

    def __init__(self) -> None:
        self._pending: dict[int, int] = {}
        self._lock = threading.Lock()
        self._fn = _sync_file_range()
        self._queue: queue.SimpleQueue[tuple[int, int, int] | None] = queue.SimpleQueue()
        self._error: OSError | None = None
        self._thread: threading.Thread | None = None
        if self._fn is not None:
            self._thread = threading.Thread(target=self._run, name="modelfusion-writeback", daemon=True)
            self._thread.start()

    def submit(self, fd: int, offset: int, nbytes: int) -> None:
        """`nbytes` were written to `fd`: once WRITE_BEHIND_BYTES have gathered, start the writeback of the
        whole file's dirty pages (offset 0, length 0: to the end)."""
        if self._thread is None or nbytes <= 0:
            return
        with self._lock:
            pending = self._pending.get(fd, 0) + nbytes
            start = pending >= WRITE_BEHIND_BYTES
            self._pending[fd] = 0 if start else pending
        if start:
            self._queue.put((fd, 0, 0))

    def _run(self) -> None:
        assert self._fn is not None
        while (item := self._queue.get()) is not None:
            fd, offset, nbytes = item
            if self._error is None and self._fn(fd, offset, nbytes, _SYNC_FILE_RANGE_WRITE) != 0:
                err = ctypes.get_errno()
                if err not in (0, 38, 95):  # ENOSYS / EOPNOTSUPP: nothing to speed up, sync() still syncs
                    self._error = OSError(err, os.strerror(err))

    @property
    def error(self) -> OSError | None:
        """The first error sync_file_range reported (the final fsync reports write errors too)."""
        return self._error

    def stop(self) -> None:
        """Finish the queued ranges (before their files are closed) and end the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None


class ShardWriter:
    """Creates each shard file with its header and full size; `write(name, t)` fills the tensor's bytes."""

    def __init__(self, folder: Path, layout: ShardLayout, fresh: bool = True) -> None:
        self.folder = folder
        self.layout = layout
        self._fds: list[int] = []
        self._behind = WriteBehind()
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
        fd = self._fds[place.shard]
        self._pwrite_all(fd, data, place.offset, self.folder / shard.filename)
        self._behind.submit(fd, place.offset, place.nbytes)

    def sync(self) -> None:
        """fsync every shard: after it returns, everything written so far is on the disk."""
        if self._behind.error is not None:
            raise OutputError(f"cannot write: {self._behind.error.strerror}", where=str(self.folder))
        for fd, shard in zip(self._fds, self.layout.shards):
            try:
                os.fsync(fd)
            except OSError as e:
                raise OutputError(f"cannot write: {e.strerror or e}", where=str(self.folder / shard.filename)) from None

    def close(self) -> None:
        self._behind.stop()
        for fd in self._fds:
            os.close(fd)
        self._fds = []
