"""Merging in-memory PyTorch modules into a new module: for users whose models are `nn.Module`s (heads and
non-Hugging-Face models included), not folders.

Data-aware methods get their statistics computed here from `data` (one iterable of batches per model, as
`calibrate()` takes them), kept in memory (no files), then every method merges the modules' state dicts
through the same plan and engine as a file merge. `adamerging` learns its coefficients (calibrate/adamerging.py)
and merges with the task_arithmetic recipe it would write. The result is loaded into a deep copy of the base
(or of the first model when there is none); the inputs are left as they were (their train / eval mode too).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import torch
from torch import nn

from modelfusion.errors import UserError
from modelfusion.pipeline.in_memory import merge_in_memory

ADAMERGING = "adamerging"


def module_statistics(
    model: nn.Module,
    data: Iterable[Any],
    names: Sequence[str],
    *,
    fisher_labels: Literal["sampled", "given"] = "sampled",
    seed: int = 0,
    max_gram_bytes: int = 1 << 30,
    where: str = "calibration data",
) -> dict[str, torch.Tensor]:
    """The statistics `names` ("gram", "fisher") of `model` on `data`, as `"<statistic>:<tensor>"` entries."""
    from modelfusion.calibrate import as_batches, fisher_statistics, gram_statistics

    batches = as_batches(data, where)
    out: dict[str, torch.Tensor] = {}
    training = model.training
    model.eval()
    try:
        if "gram" in names:
            gram_statistics(model, batches, out.__setitem__, max_bytes=max_gram_bytes)
        if "fisher" in names:
            out.update(fisher_statistics(model, batches, use_labels=fisher_labels == "given", seed=seed))
    finally:
        model.train(training)
    return out


def _adamerging(
    models: Sequence[nn.Module], base: nn.Module | int | None, data: Any, params: dict[str, Any], threads: int
) -> dict[str, torch.Tensor]:
    from modelfusion.calibrate.adamerging import adamerge
    from modelfusion.calibrate.adamerging_recipe import weight_setting

    if not isinstance(base, nn.Module):
        raise UserError("adamerging needs the base model as a module: base=<nn.Module> (the fine-tunes' base)")
    result = adamerge(base, models, data, **params)
    weights = [weight_setting(c) for c in result.coefficients]
    states = [m.state_dict() for m in models]
    merge_params = {"weight": weights, "lambda": 1.0, "normalize": False}
    return merge_in_memory(states, "task_arithmetic", base.state_dict(), merge_params, threads=threads)


def merge_modules(
    models: Sequence[nn.Module],
    method: str = "linear",
    base: nn.Module | int | None = None,
    data: Sequence[Iterable[Any]] | None = None,
    *,
    threads: int = 1,
    random_seed: int = 0,
    fisher_labels: Literal["sampled", "given"] = "sampled",
    **params: Any,
) -> nn.Module:
    """Merge `models` (modules of one architecture) with `method`; `base` is a separate module or an index into
    `models`. `data[i]` are model i's calibration batches, required by data-aware methods (fisher, regmean,
    adamerging) and refused by the others. Per-model parameters are sequences aligned with `models`
    (weight=[0.3, 0.7]), global ones scalars; adamerging takes adamerge()'s options (mode, steps, lr, ...)."""
    from modelfusion.methods import get_method

    models = list(models)
    if not models or not all(isinstance(m, nn.Module) for m in models):
        raise UserError("merge_modules: give a non-empty list of torch.nn.Module")
    if data is not None and len(data) != len(models):
        raise UserError(f"{len(data)} data iterables for {len(models)} models (give one per model, in order)")
    if method == ADAMERGING:
        if data is None:
            raise UserError("method 'adamerging' needs unlabeled data for every model: data=[batches, ...]")
        merged = _adamerging(models, base, data, params, threads)
    else:
        spec = get_method(method)
        needed = [s.name for s in spec.statistics]
        if needed and data is None:
            raise UserError(f"method '{method}' needs calibration data for model 0 (and every other): data=[...]")
        if data is not None and not needed:
            raise UserError(f"method '{method}' uses no calibration data: leave data out")
        statistics = None
        if data is not None:
            statistics = [
                module_statistics(
                    m, d, needed, fisher_labels=fisher_labels, seed=random_seed, where=f"data of model {i}"
                )
                for i, (m, d) in enumerate(zip(models, data))
            ]
        base_ref: int | Mapping[str, torch.Tensor] | None = base.state_dict() if isinstance(base, nn.Module) else base
        states = [m.state_dict() for m in models]
        merged = merge_in_memory(
            states, method, base_ref, params, threads=threads, random_seed=random_seed, statistics=statistics
        )
    template = base if isinstance(base, nn.Module) else models[base if isinstance(base, int) else 0]
    out = copy.deepcopy(template)
    out.load_state_dict(merged)
    return out
