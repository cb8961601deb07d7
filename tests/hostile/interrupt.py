"""Interrupting a merge in-process: KeyboardInterrupt from the progress callback after a given number of tensors
(the staging folder and its journal are kept, as on Ctrl-C)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest

from modelfusion import merge


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def interrupted_merge(recipe: Path, out: Path, after: int, **options: Any) -> None:
    """Run merge(recipe, out, **options) and stop it with KeyboardInterrupt after `after` tensors."""
    seen = []

    def stop(job) -> None:
        seen.append(job.out.name)
        if len(seen) == after:
            raise KeyboardInterrupt

    gc.disable()  # else a collection during the raise can hand the KeyboardInterrupt to hypothesis's gc hook
    try:
        with pytest.raises(KeyboardInterrupt):
            merge(recipe, out, on_progress=stop, **options)
    finally:
        gc.enable()
    assert not out.exists()
