"""Atomic publishing of an output folder: build in a hidden staging folder beside OUT, rename into place.

A folder at OUT therefore only ever holds a complete merge. With overwrite, the old OUT is moved aside first
and deleted only after the new one is in place.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import sys
import uuid
from pathlib import Path

from modelfusion.errors import OutputError

STAGING_PREFIX = ".modelfusion-staging-"


def check_output_path(out: Path, inputs: list[Path], overwrite: bool) -> None:
    """Refuse an output equal to or inside an input folder (or containing one), or an existing one."""
    out_r = out.resolve()
    for src in inputs:
        src_r = src.resolve()
        if out_r == src_r:
            raise OutputError(f"output is the input {src}: choose another path", where=str(out))
        if src_r.is_dir() and src_r in out_r.parents:  # a lone weight file's folder is not a model folder
            raise OutputError(f"output is inside input model folder {src}: choose another path", where=str(out))
        if out_r in src_r.parents:
            raise OutputError(f"output folder would contain input {src}: choose another path", where=str(out))
    if out.exists() and not overwrite:
        raise OutputError(
            "already exists (pass --overwrite to replace it once the new merge is complete)", where=str(out)
        )
    if out.exists() and not out.is_dir():
        raise OutputError("exists and is not a folder", where=str(out))


def staging_key(out: Path) -> str:
    """A stable name for OUT's staging folder, so a rerun with --resume finds the interrupted one."""
    return hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:12]


def make_staging(out: Path, key: str | None = None) -> Path:
    """A hidden folder next to `out` (same filesystem, so the final rename is atomic).

    With a `key` the name is deterministic and an existing folder of that name is reused (for resume).
    """
    parent = out.resolve().parent
    staging = parent / f"{STAGING_PREFIX}{out.name}-{key or uuid.uuid4().hex[:12]}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir(exist_ok=key is not None)
    except OSError as e:
        raise OutputError(f"cannot create the staging folder: {e.strerror or e}", where=str(staging)) from None
    return staging


def lock_staging(staging: Path) -> int:
    """An exclusive lock on the staging folder (released by unlock_staging or when the process dies)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock (two merges into one OUT are then the user's to avoid)
        return -1
    fd = os.open(staging, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise OutputError("another modelfusion merge is writing this output right now", where=str(staging)) from None
    return fd


def unlock_staging(fd: int) -> None:
    if fd < 0:
        return
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def clear_staging(staging: Path) -> None:
    """Empty a staging folder left by an earlier run, keeping the (locked) folder itself."""
    for child in staging.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def publish(staging: Path, out: Path, overwrite: bool) -> None:
    """Rename the complete staging folder to `out`; an existing `out` is replaced only with overwrite.

    Every file is fsync'd first, so after a power cut OUT is either the old folder or the complete new one.
    An existing OUT is swapped with the new folder in one atomic step where the OS allows (renameat2
    RENAME_EXCHANGE on Linux), else moved aside just before the new one is renamed in.
    """
    out = out.resolve()
    _fsync_tree(staging)
    if out.exists():
        if not overwrite:
            raise OutputError("appeared while merging; not replaced (pass --overwrite)", where=str(out))
        if _exchange(staging, out):
            shutil.rmtree(staging, ignore_errors=True)  # now holds the old output
        else:
            old = out.parent / f"{STAGING_PREFIX}{out.name}-old-{uuid.uuid4().hex[:12]}"
            os.rename(out, old)
            try:
                os.rename(staging, out)
            except OSError:
                os.rename(old, out)
                raise
            shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, out)
    _fsync_dir(out.parent)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE). False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    for path in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        _fsync_dir(path)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
