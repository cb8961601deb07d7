"""Merge several LoRA adapters of one base into one adapter folder PEFT loads (PEFT's `add_weighted_adapter`).

Each module targeted by at least one adapter is merged from the adapters that hold it (methods/adapter_merge.py
has the math for every combination type), module by module: only one module's factors are in memory at a time
besides the output's. The output's scaling is 1 (lora_alpha = r per module, no rsLoRA), its target_modules the
full names of the merged modules.

Differences from PEFT, each deliberate: PEFT keeps `use_rslora` of the first adapter, which makes its merged
adapter's scaling sqrt(r) instead of the 1 its factors assume (written false here); PEFT pads every module to one
rank (rank_pattern here); an `svd` rank above min(out, in) fails in PEFT and is lowered to it here; the dare types'
draws come from a generator per module (seeded from --seed and the module's name), so a seed gives the same adapter
whatever the order of modules, rather than from the global torch generator in the model's module order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from modelfusion.checkpoint.lora_adapter import LoraAdapter
from modelfusion.errors import UserError
from modelfusion.lora.adapter_output import factor_tensors, rank_settings, write_adapter
from modelfusion.methods.adapter_merge import FACTOR_TYPES, MERGE_TYPES, SVD_TYPES, merge_factors

NEEDS_DENSITY = tuple(t for t in MERGE_TYPES if t not in ("cat", "linear", "svd"))
DROPPED_SETTINGS = ("exclude_modules", "layers_to_transform", "layers_pattern", "modules_to_save")


@dataclass(frozen=True)
class AdapterMergeOptions:
    """PEFT's add_weighted_adapter arguments: `combination` (combination_type), `weights` (one per adapter,
    default 1.0 each), `density`, `majority_sign_method`, `svd_rank`, `svd_clamp`; `seed` for the dare types."""

    combination: str = "svd"
    weights: list[float] | None = None
    density: float | None = None
    majority_sign_method: str = "total"
    svd_rank: int | None = None
    svd_clamp: float | None = None
    seed: int = 0


@dataclass
class AdapterMergeResult:
    out: Path
    combination: str
    modules: int
    ranks: dict[str, int] = field(default_factory=dict)


def _check_options(opts: AdapterMergeOptions, n: int) -> list[float]:
    if n < 1:
        raise UserError("give at least one adapter")
    if opts.combination not in MERGE_TYPES:
        raise UserError(f"unknown combination '{opts.combination}'; one of: {', '.join(MERGE_TYPES)}")
    weights = list(opts.weights) if opts.weights is not None else [1.0] * n
    if len(weights) != n:
        raise UserError(f"{len(weights)} weights for {n} adapters: give one weight per adapter")
    if opts.combination in NEEDS_DENSITY and opts.density is None:
        raise UserError(f"combination '{opts.combination}' needs --density (the fraction of entries kept, 0 to 1)")
    if opts.density is not None and not 0 <= opts.density <= 1:
        raise UserError(f"--density must be in [0, 1], got {opts.density}")
    if opts.majority_sign_method not in ("total", "frequency"):
        raise UserError(f"--majority-sign must be 'total' or 'frequency', got '{opts.majority_sign_method}'")
    if opts.svd_clamp is not None and not 0 <= opts.svd_clamp <= 1:
        raise UserError(f"--svd-clamp is a quantile in [0, 1], got {opts.svd_clamp}")
    if opts.svd_rank is not None and opts.svd_rank < 1:
        raise UserError(f"--svd-rank must be at least 1, got {opts.svd_rank}")
    return weights


def _check_adapter(adapter: LoraAdapter) -> None:
    whole = sorted(k for k in adapter.replaced.values() if ".base_layer." not in k)
    if whole:
        raise UserError(
            f"saves modules whole (modules_to_save: {', '.join(whole[:3])}): whole modules are not low-rank updates "
            "and cannot be merged into an adapter; merge the adapted models instead (recipe `model: BASE+ADAPTER`)",
            where=adapter.where,
        )
    if any(d.bias for d in adapter.deltas.values()):
        raise UserError("has lora_bias updates, which merge-adapters does not combine", where=adapter.where)


def _max_rank(adapter: LoraAdapter) -> int:
    """PEFT's rank of an adapter for the merged rank: max(r, rank_pattern values)."""
    return max([int(adapter.config["r"]), *(int(v) for v in (adapter.config.get("rank_pattern") or {}).values())])


def _module_seed(seed: int, module: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{module}".encode()).digest()[:8], "little") & ((1 << 63) - 1)


def _shared_tensors(adapters: list[LoraAdapter]) -> dict[str, torch.Tensor]:
    """The base_layer copies PEFT saves of targeted embeddings, kept once if every adapter saved the same."""
    out: dict[str, torch.Tensor] = {}
    for adapter in adapters:
        for key in adapter.replaced.values():
            tensor = adapter.file.read(key)
            if key in out and not torch.equal(out[key], tensor):
                raise UserError(f"its '{key}' differs from another adapter's: not adapters of one base", adapter.where)
            out[key] = tensor
    return out


def merge_adapters(
    adapters: list[Path], out: Path, options: AdapterMergeOptions, *, overwrite: bool = False
) -> AdapterMergeResult:
    """Merge `adapters` into one PEFT adapter folder at `out` (inputs are only read)."""
    weights = _check_options(options, len(adapters))
    kind = "linear" if len(adapters) == 1 else options.combination  # as PEFT: one adapter, linear
    opened: list[LoraAdapter] = []
    try:
        for path in adapters:
            opened.append(LoraAdapter(Path(path)))
            _check_adapter(opened[-1])
        fans = {bool(a.config.get("fan_in_fan_out")) for a in opened}
        if len(fans) > 1:
            raise UserError("the adapters disagree on fan_in_fan_out: not adapters of one base")
        rank = options.svd_rank or max(_max_rank(a) for a in opened)
        tensors = _shared_tensors(opened)
        ranks: dict[str, int] = {}
        for module in sorted({m for a in opened for m in a.deltas}):
            holders = [(a, w) for a, w in zip(opened, weights) if module in a.deltas]
            a_factor, b_factor, embedding = _merge_module(kind, module, holders, rank, options)
            tensors.update(factor_tensors(module, a_factor, b_factor, embedding))
            ranks[module] = a_factor.shape[0]
        config = _merged_config(opened[0].config, ranks)
        write_adapter(out, config, tensors, [Path(p) for p in adapters], overwrite=overwrite)
    finally:
        for a in opened:
            a.close()
    return AdapterMergeResult(Path(out), kind, len(ranks), ranks)


def _merge_module(
    kind: str, module: str, holders: list[tuple[LoraAdapter, float]], rank: int, options: AdapterMergeOptions
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    deltas = [a.deltas[module] for a, _ in holders]
    embedding = {d.a.endswith("lora_embedding_A") for d in deltas}
    shapes = {a.delta_shape(d) for (a, _), d in zip(holders, deltas)}
    if len(embedding) > 1 or len(shapes) > 1:
        raise UserError(f"module '{module}' differs in kind or shape between the adapters: not adapters of one base")
    factors = [(a.file.read(d.a), a.file.read(d.b)) for (a, _), d in zip(holders, deltas)]
    if kind in FACTOR_TYPES and len({f[0].shape[0] for f in factors}) > 1:
        raise UserError(
            f"combination '{kind}' merges the A and B factors entry by entry, so it needs one rank per module, but "
            f"module '{module}' has ranks {[f[0].shape[0] for f in factors]}; use cat or svd"
        )
    generator = torch.Generator().manual_seed(_module_seed(options.seed, module))
    a, b = merge_factors(
        kind,
        factors,
        [d.scale for d in deltas],
        [w for _, w in holders],
        rank=rank if kind in SVD_TYPES else None,
        density=options.density,
        sign_method=options.majority_sign_method,  # type: ignore[arg-type]
        svd_clamp=options.svd_clamp,
        generator=generator,
        transpose=deltas[0].transpose,
    )
    dtype = factors[0][0].dtype
    return a.to(dtype), b.to(dtype), embedding.pop()


def _merged_config(first: dict, ranks: dict[str, int]) -> dict:
    """The first adapter's config (as PEFT), with the merged ranks at scaling 1 and the merged modules by name."""
    config = dict(first)
    config.update(rank_settings(ranks))
    config["target_modules"] = sorted(ranks)
    config["use_rslora"] = False
    config["use_dora"] = False
    config["lora_bias"] = False
    config["init_lora_weights"] = True
    config["inference_mode"] = True
    for key in DROPPED_SETTINGS:
        config[key] = None
    return config
