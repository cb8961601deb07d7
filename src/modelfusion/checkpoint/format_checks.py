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


def align_speakers(checkpoints: Mapping[str, Checkpoint]) -> list[str]:
    """RVC voice models with different speaker counts: truncate every speaker embedding (`emb_g.weight`) to the
    smallest count, as RVC WebUI's ckpt merge does, and return a warning saying so ([] when nothing changed).

    Only when every model holding `emb_g.weight` is an RVC voice model and the embeddings differ in their row
    count alone; anything else is left to the plan's shape check (an error)."""
    from modelfusion.checkpoint.pickle_file import SPEAKER_EMBEDDING

    holders = {ref: c for ref, c in checkpoints.items() if SPEAKER_EMBEDDING in c.infos}
    files = {}
    for ref, ckpt in holders.items():
        owner = [f for f in ckpt.files if SPEAKER_EMBEDDING in f.infos]
        if len(owner) != 1 or not getattr(owner[0], "rvc", False):
            return []
        files[ref] = owner[0]
    shapes = {ref: (f.speakers, *f.infos[SPEAKER_EMBEDDING].shape[1:]) for ref, f in files.items()}  # as stored
    if len(files) < 2 or len({s[1:] for s in shapes.values()}) != 1 or len({s[0] for s in shapes.values()}) == 1:
        return []
    rows = min(s[0] for s in shapes.values())
    counts = {str(getattr(f, "path", ref)): shapes[ref][0] for ref, f in files.items()}
    for ref, f in files.items():
        f.limit_speakers(rows, counts)
        holders[ref].infos[SPEAKER_EMBEDDING] = f.infos[SPEAKER_EMBEDDING]
    listed = ", ".join(f"{ref}: {n}" for ref, n in zip(files, (s[0] for s in shapes.values()), strict=True))
    return [
        f"RVC voice models with different speaker counts ({listed}): '{SPEAKER_EMBEDDING}' is truncated to the "
        f"first {rows} speakers of each, as RVC WebUI's ckpt merge does (speaker ids {rows} and above are dropped)"
    ]
