"""Model Breadcrumbs: drop both the smallest and the largest task-vector entries; add (or TIES-merge) the rest.

Davari & Belilovsky 2023, "Model Breadcrumbs: scaling multi-task model merging with sparse masks"
(arXiv:2312.06795). `gamma` is the paper's beta (fraction of largest entries dropped).
"""

from __future__ import annotations

import torch

from modelfusion.methods.registry import register
from modelfusion.methods.sparsify import apply_mask, outlier_mask
from modelfusion.methods.spec import MergeMethod, ParamSpec
from modelfusion.methods.task_vectors import merge_task_vectors, task_vector_params

GAMMA = ParamSpec(
    "gamma", float, default=0.01, low=0.0, high=1.0, per_model=True, help="fraction of largest entries dropped"
)


def _breadcrumbs(consensus: bool):
    def breadcrumbs(
        tensors: list[torch.Tensor],
        *,
        base: torch.Tensor | None,
        weight: list[float],
        density: list[float],
        gamma: list[float],
        normalize: bool,
        rescale: bool,
        lambda_: float,
        int8_mask: bool,
    ) -> torch.Tensor:
        """delta_i' keeps the entries ranked [top, top + kept) by descending |delta_i|, kept = floor(density n),
        top = min(floor(gamma n), n - kept); then task arithmetic or (breadcrumbs_ties) TIES election."""
        return merge_task_vectors(
            tensors,
            base,
            weight,
            sparsifier=lambda d, i: apply_mask(d, outlier_mask(d, density[i], gamma[i]), rescale),
            consensus=consensus,
            normalize=normalize,
            lambda_=lambda_,
        )

    return breadcrumbs


PAPER = "Davari & Belilovsky 2023, Model Breadcrumbs, arXiv:2312.06795"

BREADCRUMBS = register(
    MergeMethod(
        name="breadcrumbs",
        fn=_breadcrumbs(consensus=False),
        params=task_vector_params(normalize=False, rescale=False, extra=(GAMMA,)),
        base_role="separate",
        summary="Task vectors without their smallest and largest entries, added to the base.",
        paper=PAPER,
    )
)

BREADCRUMBS_TIES = register(
    MergeMethod(
        name="breadcrumbs_ties",
        fn=_breadcrumbs(consensus=True),
        params=task_vector_params(normalize=False, rescale=False, extra=(GAMMA,)),
        base_role="separate",
        summary="Breadcrumbs pruning followed by TIES sign election and disjoint merge.",
        paper=PAPER,
    )
)
