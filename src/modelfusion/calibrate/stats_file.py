"""The statistics file: a safetensors file laid out before it is filled, so each statistic is written at its own
offset as soon as it is computed (memory holds one group of Grams, not the whole file), then renamed into place.

The cache key (calibrate/run.py) is kept in the file's metadata under `modelfusion.calibration_key`.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

import torch
from safetensors import safe_open

from modelfusion.errors import OutputError

KEY = "modelfusion.calibration_key"


class StatsWriter:
    """Float32 entries of known shapes written in any order; `finish` publishes the file atomically."""

    def __init__(self, path: Path, shapes: dict[str, tuple[int, ...]], metadata: dict[str, str]) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.offsets: dict[str, tuple[int, int]] = {}
        header: dict[str, object] = {"__metadata__": metadata}
        position = 0
        for name in sorted(shapes):
            nbytes = 4 * math.prod(shapes[name])
            header[name] = {"dtype": "F32", "shape": list(shapes[name]), "data_offsets": [position, position + nbytes]}
            self.offsets[name] = (position, nbytes)
            position += nbytes
        encoded = json.dumps(header, separators=(",", ":")).encode()
        encoded += b" " * (-len(encoded) % 8)
        self.data_start = 8 + len(encoded)
        self.shapes = shapes
        self.written: set[str] = set()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.partial, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        os.pwrite(self.fd, struct.pack("<Q", len(encoded)) + encoded, 0)
        os.ftruncate(self.fd, self.data_start + position)

    def write(self, name: str, tensor: torch.Tensor) -> None:
        if name not in self.offsets:
            raise KeyError(f"statistics file has no slot for {name!r}")
        if tuple(tensor.shape) != self.shapes[name]:
            raise ValueError(f"{name}: shape {tuple(tensor.shape)}, laid out as {self.shapes[name]}")
        offset, nbytes = self.offsets[name]
        data = tensor.detach().to("cpu", torch.float32).contiguous().reshape(-1).view(torch.uint8).numpy()
        view = memoryview(data)
        done = 0
        while done < nbytes:
            done += os.pwrite(self.fd, view[done:], self.data_start + offset + done)
        self.written.add(name)

    def finish(self) -> Path:
        missing = sorted(set(self.offsets) - self.written)
        if missing:
            self.abort()
            raise RuntimeError(f"statistics never computed: {missing[:5]}")
        os.fsync(self.fd)
        os.close(self.fd)
        os.replace(self.partial, self.path)
        return self.path

    def abort(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass
        self.partial.unlink(missing_ok=True)


def cached_key(path: Path) -> str | None:
    """The calibration key stored in an existing statistics file, or None."""
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get(KEY)
    except Exception:  # not a safetensors file: recompute and replace it
        return None


def refuse_inside(path: Path, folder: Path | None) -> None:
    if folder is not None and path.resolve().is_relative_to(folder.resolve()) and path.suffix == ".safetensors":
        raise OutputError("a statistics file inside the model folder would be read as a weight shard", str(path))
