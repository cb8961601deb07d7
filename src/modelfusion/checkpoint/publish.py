"""Atomic publishing of an output folder: build in a hidden staging folder beside OUT, rename into place.

A folder at OUT therefore only ever holds a complete merge. With overwrite, the old OUT is moved aside first
and deleted only after the new one is in place.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from modelfusion.errors import OutputError

STAGING_PREFIX = ".modelfusion-staging-"


def check_output_path(out: Path, inputs: list[Path], overwrite: bool) -> None:
    """Refuse an output equal to or inside an input folder (or containing one), or an existing one."""
    out_r = out.resolve()
    for src in inputs:
        src_r = src.resolve()
        src_dir = src_r if src_r.is_dir() else src_r.parent
        if out_r == src_dir or src_dir in out_r.parents:
            raise OutputError(f"output is inside input model folder {src}: choose another path", where=str(out))
        if out_r in src_r.parents:
            raise OutputError(f"output folder would contain input {src}: choose another path", where=str(out))
    if out.exists() and not overwrite:
        raise OutputError(
            "already exists (pass --overwrite to replace it once the new merge is complete)", where=str(out)
        )
    if out.exists() and not out.is_dir():
        raise OutputError("exists and is not a folder", where=str(out))


def make_staging(out: Path, key: str | None = None) -> Path:
    """A hidden folder next to `out` (same filesystem, so the final rename is atomic)."""
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create parent folder: {e.strerror or e}", where=str(parent)) from None
    staging = parent / f"{STAGING_PREFIX}{out.name}-{key or uuid.uuid4().hex[:12]}"
    staging.mkdir(exist_ok=key is not None)
    return staging


def publish(staging: Path, out: Path, overwrite: bool) -> None:
    """Rename the complete staging folder to `out`; an existing `out` is replaced only with overwrite."""
    out = out.resolve()
    _fsync_dir(staging)
    if out.exists():
        if not overwrite:
            raise OutputError("appeared while merging; not replaced (pass --overwrite)", where=str(out))
        old = out.parent / f"{STAGING_PREFIX}{out.name}-old-{uuid.uuid4().hex[:12]}"
        os.rename(out, old)
        os.rename(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, out)
    _fsync_dir(out.parent)


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


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
