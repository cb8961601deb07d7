"""`build_moe`: a mergekit-moe config in, a Mixtral or Qwen2-MoE model folder out.

Order: read and check the config; open every model (metadata only); choose the output architecture; plan every
output tensor (all problems reported at once, before any work); compute the routers (modelfusion.moe.gates);
stream the tensors into the output (modelfusion.moe.write).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import torch

from modelfusion.checkpoint import Checkpoint
from modelfusion.checkpoint.lora_applied import AdaptedModel
from modelfusion.checkpoint.publish import check_output_path
from modelfusion.checkpoint.shard_layout import DEFAULT_SHARD_BYTES
from modelfusion.errors import CheckpointError, RecipeError, RecipeWarning
from modelfusion.moe.architecture import select_arch
from modelfusion.moe.config import DTYPES, MoEConfig, check_config, load_config
from modelfusion.moe.gates import condition_numbers
from modelfusion.moe.plan import plan_moe
from modelfusion.moe.router_build import compute_routers
from modelfusion.moe.write import config_dict, write_moe
from modelfusion.pipeline.model_refs import open_model, resolve_model

DEGENERATE_CONDITION = 5.0


@dataclass
class MoEOptions:
    allow_all_same: bool = False
    """Build even when every expert is the same model (mergekit's
    --i-understand-this-is-not-useful-without-training)."""
    seed: int = 0
    """Seeds the `random` / `uniform_random` routers and the experts' `noise_scale` noise."""
    hidden_dtype: str = "bfloat16"
    """The dtype the base model runs in for the `hidden` gate modes (mergekit's: bfloat16)."""
    device: str = "cpu"
    overwrite: bool = False
    shard_bytes: int = DEFAULT_SHARD_BYTES
    copy_tokenizer: bool = True
    model_card: bool = True


@dataclass
class MoEResult:
    out: Path
    architecture: str
    experts: int
    layers: int
    tensors: int
    bytes: int
    condition: list[float] = field(default_factory=list)
    """Per layer, the condition number of the router (modelfusion.moe.gates.condition_numbers)."""


def build_moe(
    config_path: Path, out: Path, options: MoEOptions | None = None, progress: Callable[[int, int], None] | None = None
) -> MoEResult:
    options = options or MoEOptions()
    config_path, out = Path(config_path), Path(out)
    config, text = load_config(config_path)
    where = str(config_path)
    check_config(config, where, options.allow_all_same)
    if options.hidden_dtype not in DTYPES:
        known = ", ".join(DTYPES)
        raise RecipeError(f"unknown dtype {options.hidden_dtype!r} (one of {known})", where="--hidden-dtype")
    refs = [config.base_model, *(e.source_model for e in config.experts)]
    refs += [e.source_model for e in config.shared_experts or []]
    with ExitStack() as stack:
        targets, models = [], []
        for ref in refs:
            target = resolve_model(ref, config_path)
            if target is None:
                raise CheckpointError(
                    "not found (a path, relative to the working directory or the config, or a Hub id)", where=ref
                )
            model, _ = open_model(target, ref, {})
            stack.callback(model.close)
            targets.append(target)
            models.append(model)
        return _build(config, text, where, targets, models, out, options, progress)


def _build(config: MoEConfig, text, where, targets, models: list[Checkpoint], out, options, progress) -> MoEResult:
    types = [str((m.config or {}).get("model_type")) for m in models]
    arch = select_arch(config, types, where)
    base_target = targets[0]
    base_folder = base_target.base if isinstance(base_target, AdaptedModel) else base_target
    if not (base_folder / "config.json").is_file():
        raise CheckpointError("the base must be a Hugging Face model folder (no config.json)", where=str(base_folder))
    n = len(config.experts)
    out_cfg = arch.out_config(base_folder, n, config.experts_per_token)
    out_dtype = config.out_dtype or _base_dtype(out_cfg, models[0])
    out_cfg.dtype = out_dtype
    experts = list(zip(models[1 : 1 + n], config.experts))
    shared = (models[1 + n], config.shared_experts[0]) if arch.shared_names is not None else None
    plan = plan_moe(arch, out_cfg, models[0], experts, shared)
    check_output_path(out, [p for t in targets for p in _paths(t)], options.overwrite)
    if n & (n - 1):
        warnings.warn(
            f"{n} experts is not a power of two: llama.cpp cannot run this model", RecipeWarning, stacklevel=2
        )
    gated = list(config.experts)
    shared_specs = config.shared_experts or []
    if arch.shared_names is not None and (
        any(e.positive_prompts for e in shared_specs) or config.gate_mode in ("random", "uniform_random")
    ):
        gated += shared_specs
    if isinstance(base_target, AdaptedModel) and config.gate_mode.startswith("hidden"):
        raise RecipeError(
            f"gate_mode {config.gate_mode} runs the base model, which cannot be a BASE+LORA reference: "
            "merge the adapter first, or use cheap_embed",
            where=where,
        )
    routers = compute_routers(config, gated, models[0], base_folder, plan.layers, plan.hidden, options, where)
    condition = condition_numbers(routers)
    bad = [i for i, c in enumerate(condition) if c > DEGENERATE_CONDITION]
    if bad:
        warnings.warn(
            f"routers of layers {bad} are nearly degenerate (condition number > {DEGENERATE_CONDITION:g}): "
            "the expert prompts may be too similar and some experts underused",
            RecipeWarning,
            stacklevel=2,
        )
    layout = write_moe(
        plan,
        models,
        routers,
        n,
        out,
        config_dict(out_cfg),
        out_dtype,
        base_folder=base_folder,
        config_text=text,
        seed=options.seed,
        overwrite=options.overwrite,
        shard_bytes=options.shard_bytes,
        copy_tokenizer=options.copy_tokenizer,
        model_card=options.model_card,
        progress=progress,
    )
    return MoEResult(out, arch.name, n, plan.layers, len(plan.tensors), layout.total_bytes, condition)


def _base_dtype(out_cfg, base: Checkpoint) -> torch.dtype:
    """The base config's dtype (mergekit's default), else the dtype of the base's embedding."""
    dtype = getattr(out_cfg, "dtype", None)
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and dtype.removeprefix("torch.") in DTYPES:
        return DTYPES[dtype.removeprefix("torch.")]
    info = base.infos.get("model.embed_tokens.weight")
    return info.dtype if info is not None else torch.float32


def _paths(target) -> list[Path]:
    return [target.base, target.adapter] if isinstance(target, AdaptedModel) else [target]
