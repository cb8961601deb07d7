"""The durable copy floor: the copy floor plus what makes an output durable, as `modelfusion merge` does it.

Usage: durable_floor.py [--raw] [--stats STATS.json] OUT_DIR MODEL_DIR [MODEL_DIR ...]

1. Read every byte of every input's model.safetensors once (a merge must read them all).
2. Write an output of the merge's size into a staging folder next to OUT_DIR: the first model's bytes (header
   copied verbatim, each tensor at its offset with `os.pwrite`), so the output is a valid checkpoint with the
   layout a linear merge writes. Writing is streamed (one tensor per model in memory) with write-behind every
   16 MiB (`sync_file_range`, as modelfusion's shard writer), so the disk works while the inputs are read.
3. fsync the output file and the staging folder, rename the staging folder to OUT_DIR, fsync OUT_DIR's parent
   (modelfusion's `checkpoint/publish.py`: a folder that looks complete is complete).

By default tensors are read like the copy floor (`copy_floor.py`): safetensors `get_tensor` under torch, so the
floor pays the same imports and read path and differs from the copy floor only in how it writes and in the
durability. `--raw` reads and writes plain bytes with `os.readv` into one reusable buffer, without torch: the
least any Python program can do. `--stats` writes the seconds of each phase (import, read + write, fsync,
rename) as JSON.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import struct
import sys
import time
from pathlib import Path

WRITE_BEHIND_BYTES = 16 << 20
CHUNK = 16 << 20
_SYNC_FILE_RANGE_WRITE = 2


class Writer:
    """Positioned writes with write-behind: each 16 MiB written starts the kernel's writeback of that range."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.pending = 0
        self.start = 0
        self.end = 0
        self._sfr = None
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                self._sfr = libc.sync_file_range
                self._sfr.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
            except (OSError, AttributeError):
                self._sfr = None

    def pwrite(self, data, offset: int) -> None:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += os.pwrite(self.fd, view[done:], offset + done)
        self.start = min(self.start, offset) if self.pending else offset
        self.end = max(self.end, offset + len(view)) if self.pending else offset + len(view)
        self.pending += len(view)
        if self.pending >= WRITE_BEHIND_BYTES:
            self.write_behind()

    def write_behind(self) -> None:
        if self._sfr is not None and self.pending:
            self._sfr(self.fd, self.start, self.end - self.start, _SYNC_FILE_RANGE_WRITE)
        self.pending = 0

    def fsync_close(self) -> None:
        self.write_behind()
        os.fsync(self.fd)
        os.close(self.fd)


def _header(path: Path) -> tuple[bytes, dict]:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        raw = f.read(n)
    return struct.pack("<Q", n) + raw, json.loads(raw)


def _copy_tensors(out: Writer, files: list[Path]) -> int:
    """Read every tensor of every file with safetensors (like copy_floor.py); write the first file's tensors."""
    import torch
    from safetensors import safe_open

    head, meta = _header(files[0])
    out.pwrite(head, 0)
    handles = [safe_open(str(f), framework="pt") for f in files]
    written = len(head)
    for name, info in meta.items():
        if name == "__metadata__":
            continue
        tensors = [h.get_tensor(name) for h in handles]
        first = tensors[0].contiguous().reshape(-1)
        if first.numel():
            data = first.view(torch.uint8).numpy()
            out.pwrite(data, len(head) + info["data_offsets"][0])
            written += data.nbytes
        del tensors, first
    return written


def _copy_raw(out: Writer, files: list[Path]) -> int:
    """Read every byte of every file in 16 MiB chunks into one buffer; write the first file's bytes."""
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    written = 0
    for i, path in enumerate(files):
        fd = os.open(path, os.O_RDONLY)
        try:
            offset = 0
            while n := os.readv(fd, [view]):
                if i == 0:
                    out.pwrite(view[:n], offset)
                    written += n
                offset += n
        finally:
            os.close(fd)
    return written


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_floor(out_dir: Path, models: list[Path], raw: bool = False) -> dict:
    t0 = time.perf_counter()
    if not raw:
        import safetensors.torch  # noqa: F401  (the same imports as the copy floor)
        import torch  # noqa: F401
    t1 = time.perf_counter()
    out_dir = out_dir.resolve()
    if out_dir.exists():
        raise SystemExit(f"{out_dir} exists (the floor, like a merge without --overwrite, does not replace it)")
    staging = out_dir.parent / f".{out_dir.name}-staging"
    shutil.rmtree(staging, ignore_errors=True)  # left by an interrupted run
    staging.mkdir(parents=True)
    files = [m / "model.safetensors" for m in models]
    config = models[0] / "config.json"
    if config.is_file():
        (staging / "config.json").write_bytes(config.read_bytes())
    writer = Writer(staging / "model.safetensors")
    written = _copy_raw(writer, files) if raw else _copy_tensors(writer, files)
    t2 = time.perf_counter()
    writer.fsync_close()
    if config.is_file():
        fd = os.open(staging / "config.json", os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    _fsync_dir(staging)
    t3 = time.perf_counter()
    os.rename(staging, out_dir)
    _fsync_dir(out_dir.parent)
    t4 = time.perf_counter()
    return {
        "mode": "raw" if raw else "safetensors",
        "bytes_read": sum(f.stat().st_size for f in files),
        "bytes_written": written,
        "import_s": t1 - t0,
        "read_write_s": t2 - t1,
        "fsync_s": t3 - t2,
        "rename_s": t4 - t3,
    }


def main(argv: list[str]) -> None:
    raw = "--raw" in argv
    argv = [a for a in argv if a != "--raw"]
    stats = None
    if "--stats" in argv:
        i = argv.index("--stats")
        stats = Path(argv[i + 1])
        del argv[i : i + 2]
    if len(argv) < 2:
        raise SystemExit(__doc__)
    result = durable_floor(Path(argv[0]), [Path(p) for p in argv[1:]], raw=raw)
    if stats is not None:
        stats.write_text(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
