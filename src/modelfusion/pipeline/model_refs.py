"""Model references resolved to what is opened: a local path (or Hub snapshot), or a base model with a LoRA
adapter folder applied on the fly (`model: ./base+./my-lora`, as mergekit; the base may be an earlier stage)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from modelfusion.checkpoint import Checkpoint, open_checkpoint
from modelfusion.checkpoint.lora_applied import AdaptedModel, apply_lora
from modelfusion.errors import CheckpointError
from modelfusion.pipeline.sources import resolve_model_path
from modelfusion.plan.stages import path_identity
from modelfusion.recipe.model_ref import split_adapter

ModelTarget = Path | AdaptedModel


def resolve_model(ref: str, recipe_file: Path | None, stages: Mapping[str, Path] | None = None) -> ModelTarget | None:
    """What `ref` names: a path (as `resolve_model_path`), else for `BASE+ADAPTER` an AdaptedModel whose base is
    a path or an earlier stage's folder (`stages`: name -> folder); None if `ref` names nothing. A whole
    reference that exists wins over the `+` form; a `+` form with a side that does not resolve raises a
    CheckpointError naming that side."""
    path = resolve_model_path(ref, recipe_file)
    parts = split_adapter(ref)
    if path is not None or parts is None:
        return path
    base_ref, adapter_ref = parts
    base = (stages or {}).get(base_ref) or resolve_model_path(base_ref, recipe_file)
    adapter = resolve_model_path(adapter_ref, recipe_file)
    sides = (("base", base_ref, base), ("adapter", adapter_ref, adapter))
    missing = [f"its {role} '{p}'" for role, p, found in sides if found is None]
    if missing:
        raise CheckpointError(
            f"{' and '.join(missing)} not found (a LoRA adapter is applied with BASE+ADAPTER; paths are relative "
            "to the working directory, then to the recipe's folder)",
            where=f"model '{ref}'",
        )
    assert base is not None and adapter is not None
    return AdaptedModel(base, adapter)


def absolute(target: ModelTarget) -> ModelTarget:
    """The target with resolved (absolute) paths."""
    if isinstance(target, AdaptedModel):
        return AdaptedModel(target.base.resolve(), target.adapter.resolve())
    return target.resolve()


def model_identity(target: ModelTarget, stage_keys: Mapping[Path, str]) -> str:
    """Identity of a model in a stage cache key: an earlier stage's key for its folder, else the path's identity
    (modelfusion.plan.stages.path_identity); for a base with an adapter, both."""
    if not isinstance(target, AdaptedModel):
        return stage_keys.get(target) or path_identity(target)
    base = stage_keys.get(target.base) or path_identity(target.base)
    return hashlib.sha256(f"{base}+{path_identity(target.adapter)}".encode()).hexdigest()


def open_model(target: ModelTarget, label: str, planned: Mapping[Path, Checkpoint]) -> tuple[Checkpoint, bool]:
    """Open a resolved model (metadata only) and say whether it stands on an earlier stage's planned output
    (`planned`: folder -> planned checkpoint; such a plan is provisional). A planned output is used as is."""
    base_path = target.base if isinstance(target, AdaptedModel) else target
    base = planned.get(base_path)
    if not isinstance(target, AdaptedModel):
        return (base, True) if base is not None else (open_checkpoint(target, label=label), False)
    owned = base is None
    if base is None:
        base = open_checkpoint(target.base, label=str(target.base))
    try:
        return apply_lora(base, target.adapter, label), not owned
    except BaseException:
        if owned:
            base.close()
        raise
