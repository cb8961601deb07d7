"""Task arithmetic: add weighted task vectors to the base.

Ilharco et al. 2022, "Editing models with task arithmetic" (arXiv:2212.04089).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from modelfusion.methods.blocks import BlockSource, whole_tensor
from modelfusion.methods.registry import register
from modelfusion.methods.spec import MergeMethod
from modelfusion.methods.task_vectors import stream_task_vectors, task_vector_params


def task_arithmetic_blocks(
    source: BlockSource,
    *,
    weight: list[float],
    density: list[float],
    normalize: bool,
    rescale: bool,
    lambda_: float,
    int8_mask: bool,
) -> Iterator[torch.Tensor]:
    """theta = theta_base + lambda * sum_i w_i (theta_i - theta_base) [/ sum_i w_i if normalize].

    `density` and `rescale` are accepted (as mergekit does) but nothing is pruned.
    """
    return stream_task_vectors(source, weight, keep=None, consensus=False, normalize=normalize, lambda_=lambda_)


task_arithmetic = whole_tensor(task_arithmetic_blocks)


TASK_ARITHMETIC = register(
    MergeMethod(
        name="task_arithmetic",
        fn=task_arithmetic,
        streamed=task_arithmetic_blocks,
        params=task_vector_params(normalize=False, rescale=False),
        base_role="separate",
        summary="Add the weighted task vectors (model - base) to the base model.",
        paper="Ilharco et al. 2022, Editing models with task arithmetic, arXiv:2212.04089",
    )
)
