"""Plan-time checks between models of one format: what tensor names and shapes cannot tell (two ONNX models
with different graphs, RVC voice models of different sample rates, GGUF files of different architectures).

A tensor file may expose `compat`: a dict of properties that must be equal in every model of the merge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelfusion.checkpoint.checkpoint import Checkpoint


def _compat(ckpt: Checkpoint) -> tuple[str, dict[str, object]] | None:
    for f in ckpt.files:
        compat = getattr(f, "compat", None)
        if compat:
            return str(getattr(f, "path", ckpt.label)), compat
    return None


def format_problems(checkpoints: Mapping[str, Checkpoint]) -> list[str]:
    """One problem per property on which a model differs from the first model that has it, naming both files."""
    seen = [c for ckpt in checkpoints.values() if (c := _compat(ckpt)) is not None]
    if len(seen) < 2:
        return []
    (first, ref), problems = seen[0], []
    for other, compat in seen[1:]:
        for key in sorted(set(ref) | set(compat)):
            if ref.get(key) != compat.get(key):
                problems.append(
                    f"{first} and {other} cannot be merged: different {key} ({ref.get(key)!r} vs {compat.get(key)!r})"
                )
    return problems
