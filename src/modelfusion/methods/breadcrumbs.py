"""Model Breadcrumbs: drop both the smallest and the largest task-vector entries; add (or TIES-merge) the rest.

Davari & Belilovsky 2023, "Model Breadcrumbs: scaling multi-task model merging with sparse masks"
(arXiv:2312.06795). `gamma` is the paper's beta (fraction of largest entries dropped).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from modelfusion.methods.blocks import BlockSource, whole_tensor
from modelfusion.methods.keep_rules import KeepMiddle
from modelfusion.methods.registry import register
from modelfusion.methods.spec import MergeMethod, ParamSpec
from modelfusion.methods.task_vectors import stream_task_vectors, task_vector_params

GAMMA = ParamSpec(
    "gamma", float, default=0.01, low=0.0, high=1.0, per_model=True, help="fraction of largest entries dropped"
)


def _breadcrumbs(consensus: bool):
    def breadcrumbs(
        source: BlockSource,
        *,
        weight: list[float],
        density: list[float],
        gamma: list[float],
        normalize: bool,
        rescale: bool,
        lambda_: float,
        int8_mask: bool,
    ) -> Iterator[torch.Tensor]:
        """delta_i' keeps the entries ranked [top, top + kept) by descending |delta_i|, kept = floor(density n),
        top = min(floor(gamma n), n - kept); then task arithmetic or (breadcrumbs_ties) TIES election."""
        return stream_task_vectors(
            source,
            weight,
            keep=[KeepMiddle(d, g) for d, g in zip(density, gamma)],
            consensus=consensus,
            normalize=normalize,
            lambda_=lambda_,
            rescale=rescale,
        )

    return breadcrumbs


PAPER = "Davari & Belilovsky 2023, Model Breadcrumbs, arXiv:2312.06795"

BREADCRUMBS = register(
    MergeMethod(
        name="breadcrumbs",
        fn=whole_tensor(_breadcrumbs(consensus=False)),
        streamed=_breadcrumbs(consensus=False),
        params=task_vector_params(normalize=False, rescale=False, extra=(GAMMA,)),
        base_role="separate",
        summary="Task vectors without their smallest and largest entries, added to the base.",
        paper=PAPER,
    )
)

BREADCRUMBS_TIES = register(
    MergeMethod(
        name="breadcrumbs_ties",
        fn=whole_tensor(_breadcrumbs(consensus=True)),
        streamed=_breadcrumbs(consensus=True),
        params=task_vector_params(normalize=False, rescale=False, extra=(GAMMA,)),
        base_role="separate",
        summary="Breadcrumbs pruning followed by TIES sign election and disjoint merge.",
        paper=PAPER,
    )
)
