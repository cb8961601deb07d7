"""The one streamed function behind every task-vector method: a keep rule per model, then the shared pipeline.

The methods themselves are declared in catalog/task_vector_methods.py (`keep` and `consensus` bound there);
formulas in task_vectors.py and keep_rules.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from modelfusion.methods.blocks import BlockSource
from modelfusion.methods.keep_rules import KeepLargest, KeepMiddle, KeepRandom, KeepRanked, KeepRule
from modelfusion.methods.task_vectors import stream_task_vectors


def keep_rules(
    keep: str, density: list[float], gamma: list[float] | None, epsilon: list[float] | None
) -> list[KeepRule] | None:
    """One keep rule per model from the per-model parameters; None for "all" (nothing pruned)."""
    if keep == "all":
        return None
    if keep == "largest":
        return [KeepLargest(d) for d in density]
    if keep == "middle":
        return [KeepMiddle(d, g) for d, g in zip(density, gamma or [])]
    if keep == "random":
        return [KeepRandom(d) for d in density]
    if keep == "ranked":
        return [KeepRanked(d, e) for d, e in zip(density, epsilon or [])]
    raise ValueError(f"unknown keep rule {keep!r}")


def task_vector_merge(
    source: BlockSource,
    *,
    keep: str,
    consensus: bool,
    weight: list[float],
    density: list[float],
    normalize: bool,
    rescale: bool,
    lambda_: float,
    int8_mask: bool,
    gamma: list[float] | None = None,
    epsilon: list[float] | None = None,
) -> Iterator[torch.Tensor]:
    """theta_base + lambda * merge(keep(theta_i - theta_base)), block by block. With keep "all" nothing is pruned
    and `rescale` is ignored (task arithmetic, as mergekit)."""
    rules = keep_rules(keep, density, gamma, epsilon)
    return stream_task_vectors(
        source,
        weight,
        keep=rules,
        consensus=consensus,
        normalize=normalize,
        lambda_=lambda_,
        rescale=rescale and rules is not None,
    )
