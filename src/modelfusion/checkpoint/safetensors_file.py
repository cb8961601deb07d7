"""One .safetensors file: a validated header and positioned reads of one tensor at a time.

Format: 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [b, e]}},
then the data; offsets are relative to the end of the header.
"""

from __future__ import annotations

import itertools
import json
import os
import struct
import threading
from pathlib import Path

import torch

from modelfusion.checkpoint.dtypes import SAFETENSORS_TO_TORCH, element_size
from modelfusion.checkpoint.tensor_info import TensorInfo
from modelfusion.errors import CheckpointError

MAX_HEADER_BYTES = 100 * 1024 * 1024


def _is_count(value: object) -> bool:
    """A non-negative JSON integer (bool is an int subclass in Python, but not a count)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class SafetensorsFile:
    """Header parsed and checked on open; tensor data read on demand (the file is opened read-only)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._entries: dict[str, tuple[TensorInfo, int, int]] = {}
        self._fd: int | None = None
        self._lock = threading.Lock()
        self.metadata: dict[str, str] = {}
        self._data_start = 0
        self._parse_header()

    def _fail(self, problem: str) -> CheckpointError:
        return CheckpointError(problem, where=str(self.path))

    def _parse_header(self) -> None:
        try:
            size = self.path.stat().st_size
            with open(self.path, "rb") as f:
                raw_len = f.read(8)
                if len(raw_len) < 8:
                    raise self._fail("not a safetensors file: shorter than its 8-byte header length")
                (n,) = struct.unpack("<Q", raw_len)
                if n > MAX_HEADER_BYTES or 8 + n > size:
                    raise self._fail(f"header length {n} does not fit in the file ({size} bytes): truncated?")
                header_bytes = f.read(n)
        except OSError as e:
            raise self._fail(f"cannot read: {e.strerror or e}") from None
        try:
            header = json.loads(header_bytes, object_pairs_hook=self._no_duplicates)
        except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, over-long integers
            raise self._fail(f"header is not valid JSON ({e})") from None
        except RecursionError:
            raise self._fail("header JSON is nested too deeply") from None
        if not isinstance(header, dict):
            raise self._fail("header is not a JSON object")
        self._data_start = 8 + n
        data_len = size - self._data_start
        spans: list[tuple[int, int, str]] = []
        for name, entry in header.items():
            if name == "__metadata__":
                if isinstance(entry, dict):
                    self.metadata = {str(k): str(v) for k, v in entry.items()}
                continue
            info, begin, end = self._check_entry(name, entry, data_len)
            self._entries[name] = (info, begin, end)
            spans.append((begin, end, name))
        spans.sort()
        for (_b0, e0, n0), (b1, _e1, n1) in itertools.pairwise(spans):
            if b1 < e0:
                raise self._fail(f"tensors '{n0}' and '{n1}' overlap in the file")

    def _no_duplicates(self, pairs: list[tuple[str, object]]) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in pairs:
            if key in out:
                raise self._fail(f"header names '{key}' twice")
            out[key] = value
        return out

    def _check_entry(self, name: str, entry: object, data_len: int) -> tuple[TensorInfo, int, int]:
        if not isinstance(entry, dict):
            raise self._fail(f"header entry for '{name}' is not an object")
        dtype_name = entry.get("dtype")
        if not isinstance(dtype_name, str) or dtype_name not in SAFETENSORS_TO_TORCH:
            raise self._fail(f"tensor '{name}' has unknown dtype {dtype_name!r}")
        shape = entry.get("shape")
        offsets = entry.get("data_offsets")
        if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
            raise self._fail(f"tensor '{name}' has an invalid shape {shape!r}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_count(o) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]
        ):
            raise self._fail(f"tensor '{name}' has invalid data_offsets {offsets!r}")
        dtype = SAFETENSORS_TO_TORCH[dtype_name]
        info = TensorInfo(name=name, shape=tuple(shape), dtype=dtype, file=str(self.path))
        begin, end = offsets
        if end - begin != info.numel * element_size(dtype):
            raise self._fail(
                f"tensor '{name}': {end - begin} bytes stored but shape {tuple(shape)} of {dtype_name} "
                f"needs {info.nbytes}"
            )
        if end > data_len:
            raise self._fail(f"tensor '{name}' points past the end of the file (truncated?)")
        return info, begin, end

    @property
    def infos(self) -> dict[str, TensorInfo]:
        return {name: e[0] for name, e in self._entries.items()}

    def _descriptor(self) -> int:
        with self._lock:
            if self._fd is None:
                try:
                    self._fd = os.open(self.path, os.O_RDONLY)
                except OSError as e:
                    raise self._fail(f"cannot open: {e.strerror or e}") from None
            return self._fd

    def read(self, name: str) -> torch.Tensor:
        """The tensor, read with positioned reads (os.preadv) into memory the caller owns.

        Not a memory map: mapped pages would count in the process's resident memory until unmapped, so a
        merge's RSS would grow with the model. Read-once data costs one copy from the page cache either way.
        """
        info, begin, _ = self._entries[name]
        return self._read_into(torch.empty(info.shape, dtype=info.dtype), name, self._data_start + begin)

    def read_rows(self, name: str, start: int, stop: int) -> torch.Tensor:
        """Rows [start, stop) of the first dimension (a contiguous byte range), read like `read`."""
        info, begin, end = self._entries[name]
        if not info.shape:
            return self.read(name)
        rows = info.shape[0]
        start, stop = max(0, min(start, rows)), max(0, min(stop, rows))
        stop = max(start, stop)
        row_bytes = (end - begin) // rows if rows else 0
        out = torch.empty((stop - start, *info.shape[1:]), dtype=info.dtype)
        return self._read_into(out, name, self._data_start + begin + start * row_bytes)

    def _read_into(self, out: torch.Tensor, name: str, offset: int) -> torch.Tensor:
        if out.numel() == 0:
            return out
        view = memoryview(out.reshape(-1).view(torch.uint8).numpy())
        fd = self._descriptor()
        try:
            while len(view):
                n = os.preadv(fd, [view], offset)
                if n == 0:
                    raise self._fail(f"tensor '{name}' ends past the end of the file (truncated since opened?)")
                view = view[n:]
                offset += n
        except OSError as e:
            raise self._fail(f"cannot read tensor '{name}': {e.strerror or e}") from None
        return out

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
