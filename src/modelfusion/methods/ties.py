"""TIES-Merging: trim (magnitude), elect sign, disjoint merge.

Yadav et al. 2023, "TIES-Merging: Resolving interference when merging models" (arXiv:2306.01708).
"""

from __future__ import annotations

import torch

from modelfusion.methods.registry import register
from modelfusion.methods.sparsify import apply_mask, magnitude_mask
from modelfusion.methods.spec import MergeMethod
from modelfusion.methods.task_vectors import merge_task_vectors, task_vector_params


def ties(
    tensors: list[torch.Tensor],
    *,
    base: torch.Tensor | None,
    weight: list[float],
    density: list[float],
    normalize: bool,
    rescale: bool,
    lambda_: float,
    int8_mask: bool,
) -> torch.Tensor:
    """delta_i' = top-k_i(|delta_i|) entries of delta_i, k_i = floor(density_i n); elect
    gamma = sign(sum_i w_i delta_i'); theta = theta_base + lambda * sum_i [sign(w_i delta_i') = gamma] w_i delta_i'
    / sum_i [sign(w_i delta_i') = gamma] w_i (the disjoint mean; plain sum when normalize is false)."""
    return merge_task_vectors(
        tensors,
        base,
        weight,
        sparsifier=lambda d, i: apply_mask(d, magnitude_mask(d, density[i]), rescale),
        consensus=True,
        normalize=normalize,
        lambda_=lambda_,
    )


TIES = register(
    MergeMethod(
        name="ties",
        fn=ties,
        params=task_vector_params(normalize=True, rescale=False),
        base_role="separate",
        summary="Task vectors trimmed to their largest entries, sign-elected, then averaged where they agree.",
        paper="Yadav et al. 2023, TIES-Merging, arXiv:2306.01708",
    )
)
