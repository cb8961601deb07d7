"""Server-side merge of client updates with any methods/ method: pure torch, no Flower.

Round r starts from the global model g (a state dict). Client i returns θ_i after local training on n_i
examples; its update (task vector) is δ_i = θ_i − g. Optionally each update is clipped to an L2 norm c over
all its float entries:  δ_i ← δ_i · min(1, c / ‖δ_i‖₂). The new global model is then

- methods with a base (ties, dare_ties, task_arithmetic, slerp, the SVD family, ...):
  g' = M(g + δ_1, ..., g + δ_n; base = g), i.e. exactly `modelfusion.merge_state_dicts(clients, method,
  base=g, ...)`: the same in-memory plan and engine as `modelfusion merge`;;
- methods without one (linear, karcher, passthrough):  g' = g + M(δ_1, ..., δ_n).

Per-model weights default to w_i = n_i / Σ_j n_j (unless the method parameters set `weight`), so `linear` gives
g + Σ w_i δ_i = Σ w_i θ_i: FedAvg. Non-float tensors (e.g. BatchNorm counters) are not merged: the first client's
value is kept, as the file merge copies them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from modelfusion.errors import RecipeError
from modelfusion.methods import get_method
from modelfusion.pipeline import merge_in_memory

StateDict = dict[str, torch.Tensor]


@dataclass
class UpdateStats:
    """What a round's merge saw: per-client update norms (before clipping), which were clipped, sign conflicts."""

    norms: list[float] = field(default_factory=list)
    clipped: list[bool] = field(default_factory=list)
    sign_conflict: float = 0.0
    """Fraction of float entries where the clients' nonzero updates do not all have the same sign."""


def check_method(method: str, params: Mapping[str, Any]) -> None:
    """Refuse a method the server cannot run on updates alone (one line, RecipeError)."""
    spec = get_method(method)
    if spec.statistics:
        names = ", ".join(s.name for s in spec.statistics)
        raise RecipeError(f"method '{spec.name}' needs per-tensor statistics ({names}); not available on a server")
    for name in params:
        if spec.param(name) is None:
            known = ", ".join(p.name for p in spec.params) or "none"
            raise RecipeError(f"method '{spec.name}' has no parameter '{name}' (its parameters: {known})")


def _is_float(t: torch.Tensor) -> bool:
    return t.is_floating_point()


def update_norm(delta: Mapping[str, torch.Tensor]) -> float:
    """‖δ‖₂ over every float entry of the update (float64 accumulation)."""
    total = sum(float(torch.sum(d.double() ** 2)) for d in delta.values())
    return total**0.5


def sign_conflict_fraction(deltas: Sequence[Mapping[str, torch.Tensor]]) -> float:
    """Fraction of entries where some client's update is > 0 and another's is < 0."""
    if len(deltas) < 2:
        return 0.0
    conflicts, entries = 0, 0
    for name in deltas[0]:
        stacked = torch.stack([d[name] for d in deltas])
        conflicts += int(torch.count_nonzero((stacked > 0).any(0) & (stacked < 0).any(0)))
        entries += stacked[0].numel()
    return conflicts / entries if entries else 0.0


def merge_updates(
    global_sd: Mapping[str, torch.Tensor],
    clients: Sequence[Mapping[str, torch.Tensor]],
    num_examples: Sequence[float],
    method: str = "linear",
    params: Mapping[str, Any] | None = None,
    *,
    clip_norm: float | None = None,
    random_seed: int = 0,
) -> tuple[StateDict, UpdateStats]:
    """The new global state dict from validated client state dicts (same keys and shapes as `global_sd`)."""
    if not clients:
        raise ValueError("no client update to merge")
    params = dict(params or {})
    spec = get_method(method)
    floats = [k for k, t in global_sd.items() if _is_float(t)]
    deltas: list[StateDict] = [{k: c[k].to(global_sd[k].dtype) - global_sd[k] for k in floats} for c in clients]
    stats = UpdateStats(norms=[update_norm(d) for d in deltas])
    for d, norm in zip(deltas, stats.norms):
        clip = clip_norm is not None and norm > clip_norm
        stats.clipped.append(clip)
        if clip:
            scale = clip_norm / norm
            for k in d:
                d[k] = d[k] * scale
    stats.sign_conflict = sign_conflict_fraction(deltas)
    if spec.param("weight") is not None and "weight" not in params:
        total = float(sum(num_examples))
        params["weight"] = [float(n) / total for n in num_examples]
    base = {k: global_sd[k] for k in floats}
    if spec.base_role == "none":
        merged = merge_in_memory(deltas, method, None, params, random_seed=random_seed)
        new = {k: base[k] + merged[k].to(base[k].dtype) for k in floats}
    else:
        # an unclipped client goes in as sent (bit-identical to merging the client models directly)
        models = [
            {k: base[k] + d[k] if clip else c[k].to(base[k].dtype) for k in floats}
            for c, d, clip in zip(clients, deltas, stats.clipped)
        ]
        new = merge_in_memory(models, method, base, params, random_seed=random_seed)
    out: StateDict = {}
    for k, t in global_sd.items():
        out[k] = new[k].to(t.dtype) if k in new else clients[0][k].clone()
    return out, stats
