"""The resume journal: an append-only record of finished jobs, kept in the staging folder.

File format (text, one record a line): `<json>\\t<crc32 of the json, 8 hex digits>\\n`.
- line 1: {"journal": 1, "fingerprint": F}; F identifies the plan (output layout, every job, the size and
  mtime of every input file: weights, LoRA adapters applied on the fly, statistics files; the recipe text,
  the seed, the modelfusion version) and --allow-nonfinite, so a journal is only ever resumed by the same merge;
- then one line per finished job: {"t": tensor name, "n": bytes, "crc": crc32 of the bytes written}.

Each line is written with one append as soon as its tensor's bytes are written (a killed process loses
nothing it wrote); lines and shard data are fsync'd in batches (a power cut loses at most about one batch),
by a background thread, so workers never wait for the disk. The caller's final `finish()` reports an error
such a sync met (an fsync error is reported once, so it must not be lost) before the shards' last fsync.
A torn or corrupt line ends the journal. On resume every recorded tensor is re-read from its shard and its
crc32 compared, so a line whose data never reached the disk is simply redone: correctness never depends on
the order in which the kernel flushed pages.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import torch

from modelfusion.checkpoint.shard_layout import ShardLayout
from modelfusion.checkpoint.shard_writer import tensor_bytes
from modelfusion.errors import OutputError
from modelfusion.plan.job import MergePlan
from modelfusion.version import __version__

JOURNAL_NAME = ".modelfusion-journal"
VERSION = 1
SYNC_EVERY_S = 2.0
SYNC_EVERY_BYTES = 1 << 30
READ_CHUNK = 16 << 20


def plan_fingerprint(plan: MergePlan, layout: ShardLayout, allow_nonfinite: bool) -> str:
    """sha256 over everything that determines the output bytes (the plan, and the run option that does)."""
    h = hashlib.sha256(f"modelfusion {__version__} journal {VERSION}\n".encode())
    for shard in layout.shards:
        h.update(shard.filename.encode() + b"\0" + shard.header)
    for job in sorted(plan.jobs, key=lambda j: j.out.name):
        record = [
            job.out.name,
            str(job.out.dtype),
            job.method,
            [(r.model, r.tensor) for r in job.inputs],
            (job.base.model, job.base.tensor) if job.base else None,
            str(job.compute_dtype),
            str(job.read_dtype),
            json.dumps(job.params, sort_keys=True, default=repr),
        ]
        h.update(json.dumps(record, default=repr).encode() + b"\n")
    h.update(f"seed {plan.random_seed} nonfinite {allow_nonfinite}\n".encode())
    h.update(plan.recipe_text.encode() + b"\n")  # settings a job does not spell out (e.g. tokenizer realignment)
    for kind, opened in (("model", plan.checkpoints), ("statistics", plan.statistics)):
        for key in sorted(opened):
            for name in opened[key].source_files():
                try:
                    st = os.stat(name)
                    h.update(f"{kind}\0{key}\0{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
                except OSError:
                    h.update(f"{kind}\0{key}\0{name}\0in memory\n".encode())
    return h.hexdigest()


def _line(record: dict) -> bytes:
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=True)
    return f"{text}\t{zlib.crc32(text.encode()):08x}\n".encode()


def _parse(line: bytes) -> dict | None:
    try:
        text, crc = line.decode("ascii").rsplit("\t", 1)
        if int(crc, 16) != zlib.crc32(text.encode()):
            return None
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def read_journal(staging: Path) -> tuple[str, dict[str, tuple[int, int]]] | None:
    """(fingerprint, {tensor: (nbytes, crc32)}) of a journal, or None if there is none or its head is torn."""
    try:
        raw = (staging / JOURNAL_NAME).read_bytes()
    except OSError:
        return None
    lines = raw.split(b"\n")
    if len(lines) < 2:  # the last element is what follows the final newline: a torn line or b""
        return None
    head = _parse(lines[0])
    if not head or head.get("journal") != VERSION or not isinstance(head.get("fingerprint"), str):
        return None
    done: dict[str, tuple[int, int]] = {}
    for line in lines[1:-1]:
        record = _parse(line)
        if record is None:
            break
        name, n, crc = record.get("t"), record.get("n"), record.get("crc")
        if isinstance(name, str) and isinstance(n, int) and isinstance(crc, int):
            done[name] = (n, crc)
    return head["fingerprint"], done


def _file_crc(fd: int, offset: int, nbytes: int) -> int:
    crc = 0
    while nbytes > 0:
        chunk = os.pread(fd, min(READ_CHUNK, nbytes), offset)
        if not chunk:
            return -1
        crc = zlib.crc32(chunk, crc)
        offset += len(chunk)
        nbytes -= len(chunk)
    return crc


def verified_done(staging: Path, layout: ShardLayout, recorded: dict[str, tuple[int, int]]) -> set[str] | None:
    """The recorded tensors whose bytes in the staged shards match their checksum.

    None when the shard files themselves are not as laid out (missing, wrong size or header): start over.
    """
    fds: list[int] = []
    try:
        for shard in layout.shards:
            path = staging / shard.filename
            fd = os.open(path, os.O_RDONLY)
            fds.append(fd)
            if os.fstat(fd).st_size != shard.size or os.pread(fd, len(shard.header), 0) != shard.header:
                return None
        done = set()
        for name, (n, crc) in recorded.items():
            place = layout.placements.get(name)
            if place is None or place.nbytes != n:
                continue
            if _file_crc(fds[place.shard], place.offset, n) == crc:
                done.add(name)
        return done
    except OSError:
        return None
    finally:
        for fd in fds:
            os.close(fd)


class Journal:
    """Appends one line per finished tensor; thread-safe.

    Every SYNC_EVERY_S seconds or SYNC_EVERY_BYTES bytes, a background thread calls `sync_data` (fsync the
    shards) and then fsyncs the journal. Lines may reach the disk before their data does; resume re-checks
    every recorded tensor's crc32, so such a line only means that tensor is redone.
    """

    def __init__(self, staging: Path, fingerprint: str, fresh: bool, sync_data: Callable[[], None]) -> None:
        self.path = staging / JOURNAL_NAME
        self._sync_data = sync_data
        self._lock = threading.Lock()
        self._unsynced_bytes = 0
        self._last_sync = time.monotonic()
        self._sync_due = threading.Event()
        self._stopping = False
        self._error: BaseException | None = None
        self._syncer: threading.Thread | None = None
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if fresh else 0)
        try:
            self._fd = os.open(self.path, flags, 0o644)
            if fresh:
                os.write(self._fd, _line({"journal": VERSION, "fingerprint": fingerprint}))
                os.fsync(self._fd)
        except OSError as e:
            raise OutputError(f"cannot write the resume journal: {e.strerror or e}", where=str(self.path)) from None
        self._syncer = threading.Thread(target=self._sync_loop, name="modelfusion-journal-sync", daemon=True)
        self._syncer.start()

    def record(self, name: str, tensor: torch.Tensor) -> None:
        """Call after the tensor's bytes were written to its shard."""
        data = tensor_bytes(tensor)
        line = _line({"t": name, "n": len(data), "crc": zlib.crc32(data)})
        with self._lock:
            self._raise_sync_error()
            try:
                os.write(self._fd, line)
            except OSError as e:
                raise OutputError(f"cannot write the resume journal: {e.strerror or e}", where=str(self.path)) from None
            self._unsynced_bytes += len(data)
            if self._unsynced_bytes >= SYNC_EVERY_BYTES or time.monotonic() - self._last_sync >= SYNC_EVERY_S:
                self._unsynced_bytes = 0
                self._last_sync = time.monotonic()
                self._sync_due.set()

    def _sync_loop(self) -> None:
        while True:
            self._sync_due.wait()
            self._sync_due.clear()
            if self._stopping:
                return
            try:
                self._sync_data()
                os.fsync(self._fd)
            except BaseException as e:  # reported by the next record() or by finish()
                self._error = e
                return

    def _raise_sync_error(self) -> None:
        e = self._error
        if e is None:
            return
        if isinstance(e, OutputError):
            raise e
        text = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise OutputError(f"cannot make the output durable: {text}", where=str(self.path))

    def _stop_syncer(self) -> None:
        if self._syncer is not None:
            self._stopping = True
            self._sync_due.set()
            self._syncer.join()
            self._syncer = None

    def finish(self) -> None:
        """Stop the background syncs and raise the error one met; then fsync the shards (the caller's job)."""
        self._stop_syncer()
        self._raise_sync_error()

    def close(self, remove: bool = False) -> None:
        """Close; `remove` deletes the journal (done before the staging folder is published)."""
        self._stop_syncer()
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        if remove:
            self.path.unlink(missing_ok=True)


def remove_journal(staging: Path) -> None:
    """Delete the journal: done once every tensor is written, just before the folder is published."""
    (staging / JOURNAL_NAME).unlink(missing_ok=True)
