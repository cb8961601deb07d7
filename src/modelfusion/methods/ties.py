"""TIES-Merging: trim (magnitude), elect sign, disjoint merge.

Yadav et al. 2023, "TIES-Merging: Resolving interference when merging models" (arXiv:2306.01708).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from modelfusion.methods.blocks import BlockSource, whole_tensor
from modelfusion.methods.keep_rules import KeepLargest
from modelfusion.methods.registry import register
from modelfusion.methods.spec import MergeMethod
from modelfusion.methods.task_vectors import stream_task_vectors, task_vector_params


def ties_blocks(
    source: BlockSource,
    *,
    weight: list[float],
    density: list[float],
    normalize: bool,
    rescale: bool,
    lambda_: float,
    int8_mask: bool,
) -> Iterator[torch.Tensor]:
    """delta_i' = top-k_i(|delta_i|) entries of delta_i, k_i = floor(density_i n); elect
    gamma = sign(sum_i w_i delta_i'); theta = theta_base + lambda * sum_i [sign(w_i delta_i') = gamma] w_i delta_i'
    / sum_i [sign(w_i delta_i') = gamma] w_i (the disjoint mean; plain sum when normalize is false)."""
    return stream_task_vectors(
        source,
        weight,
        keep=[KeepLargest(d) for d in density],
        consensus=True,
        normalize=normalize,
        lambda_=lambda_,
        rescale=rescale,
    )


ties = whole_tensor(ties_blocks)


TIES = register(
    MergeMethod(
        name="ties",
        fn=ties,
        streamed=ties_blocks,
        params=task_vector_params(normalize=True, rescale=False),
        base_role="separate",
        summary="Task vectors trimmed to their largest entries, sign-elected, then averaged where they agree.",
        paper="Yadav et al. 2023, TIES-Merging, arXiv:2306.01708",
    )
)
