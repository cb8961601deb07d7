"""Task arithmetic: add weighted task vectors to the base.

Ilharco et al. 2022, "Editing models with task arithmetic" (arXiv:2212.04089).
"""

from __future__ import annotations

import torch

from modelfusion.methods.registry import register
from modelfusion.methods.spec import MergeMethod
from modelfusion.methods.task_vectors import merge_task_vectors, task_vector_params


def task_arithmetic(
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
    """theta = theta_base + lambda * sum_i w_i (theta_i - theta_base) [/ sum_i w_i if normalize].

    `density` and `rescale` are accepted (as mergekit does) but nothing is pruned.
    """
    return merge_task_vectors(
        tensors, base, weight, sparsifier=None, consensus=False, normalize=normalize, lambda_=lambda_
    )


TASK_ARITHMETIC = register(
    MergeMethod(
        name="task_arithmetic",
        fn=task_arithmetic,
        params=task_vector_params(normalize=False, rescale=False),
        base_role="separate",
        elementwise=True,
        summary="Add the weighted task vectors (model - base) to the base model.",
        paper="Ilharco et al. 2022, Editing models with task arithmetic, arXiv:2212.04089",
    )
)
