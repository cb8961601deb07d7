"""Merging in-memory state dicts: the same plan and engine as a file merge, no files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from modelfusion.checkpoint import open_checkpoint
from modelfusion.engine.run_options import RunOptions
from modelfusion.engine.runner import run_plan
from modelfusion.errors import RecipeError
from modelfusion.methods import get_method
from modelfusion.plan import COPY, Job, build_plan
from modelfusion.recipe import parse_recipe


def merge_in_memory(
    state_dicts: Sequence[Mapping[str, torch.Tensor]],
    method: str,
    base: int | Mapping[str, torch.Tensor] | None,
    params: Mapping[str, Any],
    *,
    threads: int = 1,
    random_seed: int = 0,
    allow_nonfinite: bool = False,
    statistics: Sequence[Mapping[str, torch.Tensor]] | None = None,
) -> dict[str, torch.Tensor]:
    """Merge state dicts with `method`; per-model `params` are sequences aligned with `state_dicts`, and so are
    `statistics` (entries `"<statistic>:<tensor>"`, methods/statistics.py) for a data-aware method."""
    spec = get_method(method)
    keys = [f"model_{i}" for i in range(len(state_dicts))]
    ckpts = {k: open_checkpoint(sd, label=k) for k, sd in zip(keys, state_dicts)}
    base_key = None
    if isinstance(base, int):
        if not -len(keys) <= base < len(keys):
            raise RecipeError(f"base={base} is not an index into the {len(keys)} state dicts")
        base_key = keys[base]
    elif base is not None:
        base_key = "base"
        ckpts[base_key] = open_checkpoint(base, label="base")
    per_model = {p.name for p in spec.params if p.per_model}
    for n, v in params.items():
        if n in per_model and not isinstance(v, (int, float)) and len(list(v)) != len(keys):
            raise RecipeError(f"{n}: {len(list(v))} value(s) for {len(keys)} state dicts (give one each, or a scalar)")
    models = []
    for i, k in enumerate(keys):
        mp = {n: list(v)[i] for n, v in params.items() if n in per_model and not isinstance(v, (int, float))}
        models.append({"model": k, "parameters": mp or None})
    top = {n: v for n, v in params.items() if n not in per_model or isinstance(v, (int, float))}
    recipe = parse_recipe({"merge_method": method, "base_model": base_key, "models": models, "parameters": top or None})
    stats = None
    if statistics is not None:
        if len(statistics) != len(keys):
            raise RecipeError(f"{len(statistics)} statistics for {len(keys)} state dicts (give one each)")
        stats = {k: open_checkpoint(s, label=f"statistics of {k}") for k, s in zip(keys, statistics)}
    plan = build_plan(recipe, ckpts, random_seed=random_seed, statistics=stats)
    result: dict[str, torch.Tensor] = {}

    def keep(job: Job, tensor: torch.Tensor) -> None:
        result[job.out.name] = tensor.clone() if job.method == COPY else tensor

    run_plan(plan, keep, threads, options=RunOptions(allow_nonfinite=allow_nonfinite))
    return {j.out.name: result[j.out.name] for j in plan.jobs}
