"""`compare`: task-vector statistics of several fine-tunes against their base, streamed tensor by tensor.

Memory: one tensor of the base and the n task vectors of that same tensor are in memory at a time, never whole
models; statistics are sums accumulated per (layer, module kind) (see task_vectors.py for the math).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from modelfusion.analysis.groups import GroupedStats
from modelfusion.analysis.module_kind import group_of
from modelfusion.analysis.task_vectors import TaskVectorStats, tensor_stats
from modelfusion.checkpoint import Checkpoint, open_checkpoint
from modelfusion.checkpoint.format_checks import format_problems
from modelfusion.engine.device import checked_device
from modelfusion.errors import UserError


@dataclass
class Comparison:
    base: str
    models: list[str]
    density: float
    stats: GroupedStats[TaskVectorStats]
    tensors: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(tensor name, why it was left out)."""


def short_labels(refs: Sequence[str]) -> list[str]:
    """Readable, unique labels: the last path component, with the parent folder added when two collide, and #2, #3
    for a path given more than once."""
    names = [Path(r).name or str(r) for r in refs]
    if len(set(names)) < len(names):
        names = [f"{Path(r).parent.name}/{Path(r).name}" if names.count(n) > 1 else n for r, n in zip(refs, names)]
    seen: dict[str, int] = {}
    unique = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        unique.append(n if seen[n] == 1 else f"{n}#{seen[n]}")
    return unique


def _skip_reason(name: str, base: Checkpoint, models: dict[str, Checkpoint]) -> str | None:
    info = base.infos[name]
    if not info.dtype.is_floating_point:
        return f"not a float tensor ({info.dtype})"
    for label, ckpt in models.items():
        other = ckpt.infos.get(name)
        if other is None:
            return f"missing from {label}"
        if other.shape != info.shape:
            return f"shape {list(other.shape)} in {label} but {list(info.shape)} in the base"
    return None


def compare_checkpoints(
    base: Checkpoint,
    models: dict[str, Checkpoint],
    density: float = 0.2,
    on_tensor: Callable[[str], None] | None = None,
    device: str = "cpu",
) -> Comparison:
    """Stream every tensor the base and all models share; accumulate task-vector statistics per group."""
    _check_arguments(density, len(models))
    dev = checked_device(device)
    labels = list(models)
    result = Comparison(base.label, labels, density, GroupedStats(lambda: TaskVectorStats(len(labels))))
    for label, ckpt in models.items():
        extra = sorted(set(ckpt.infos) - set(base.infos))
        result.skipped += [(n, f"only in {label}, not in the base") for n in extra]
    for name in base.infos:
        reason = _skip_reason(name, base, models)
        if reason is not None:
            result.skipped.append((name, reason))
            if on_tensor:
                on_tensor(name)
            continue
        base_t = base.read(name).to(device=dev, dtype=torch.float32)
        deltas = [ckpt.read(name).to(device=dev, dtype=torch.float32) - base_t for ckpt in models.values()]
        result.stats.add(group_of(name), tensor_stats(base_t, deltas, density))
        result.tensors += 1
        del base_t, deltas
        if on_tensor:
            on_tensor(name)
    if result.tensors == 0:
        raise UserError(
            "the base and the models share no float tensor of the same shape; nothing to compare", where=base.label
        )
    return result


def _check_arguments(density: float, n_models: int) -> None:
    if not 0.0 < density <= 1.0:
        raise UserError(f"density must be in (0, 1], got {density}", where="--density")
    if n_models < 1:
        raise UserError("compare needs at least one model besides the base")


def compare_models(
    base: str | Path,
    models: Sequence[str | Path],
    density: float = 0.2,
    device: str = "cpu",
    on_start: Callable[[int], None] | None = None,
    on_tensor: Callable[[str], None] | None = None,
) -> Comparison:
    """Open the base and the models (metadata only), then stream the comparison.

    Arguments and the device are checked before any file is opened; `on_start(n)` is called once the base is open
    with the number of its tensors, `on_tensor(name)` after each of them.
    """
    _check_arguments(density, len(models))
    checked_device(device)
    labels = short_labels([str(base), *map(str, models)])
    opened: list[Checkpoint] = []
    try:
        for ref, label in zip([base, *models], labels):
            opened.append(open_checkpoint(ref, label=label))
        problems = format_problems(dict(zip(labels, opened)))  # different ONNX graphs, GGUF architectures, RVC sr
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise UserError(f"task vectors would be meaningless: {problems[0]}{more}", where=str(base))
        if on_start:
            on_start(len(opened[0].infos))
        return compare_checkpoints(opened[0], dict(zip(labels[1:], opened[1:])), density, on_tensor, device)
    finally:
        for c in opened:
            c.close()
