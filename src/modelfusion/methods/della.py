"""DELLA: magnitude-ranked random pruning (MagPrune), then add (della_linear) or TIES-merge (della).

Deep et al. 2024, "DELLA-Merging: reducing interference in model merging through magnitude-based sampling"
(arXiv:2406.11617).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from modelfusion.methods.blocks import BlockSource, whole_tensor
from modelfusion.methods.keep_rules import KeepRanked, della_range_problem
from modelfusion.methods.registry import register
from modelfusion.methods.spec import MergeMethod, ParamSpec
from modelfusion.methods.task_vectors import stream_task_vectors, task_vector_params

EPSILON = ParamSpec(
    "epsilon",
    float,
    default=0.15,
    low=0.0,
    high=0.5,
    per_model=True,
    help="half-width of the keep-probability range; needs 0 < density - epsilon, density + epsilon < 1",
)


def _della(consensus: bool):
    def della(
        source: BlockSource,
        *,
        weight: list[float],
        density: list[float],
        epsilon: list[float],
        normalize: bool,
        rescale: bool,
        lambda_: float,
        int8_mask: bool,
    ) -> Iterator[torch.Tensor]:
        """Per row, rank r of |delta_ij| (0 = smallest of m): keep with p = density - eps + 2 eps r / (m - 1);
        rescale survivors to the L1 norm of delta_i; then task arithmetic (della_linear) or TIES election (della).
        """
        return stream_task_vectors(
            source,
            weight,
            keep=[KeepRanked(d, e) for d, e in zip(density, epsilon)],
            consensus=consensus,
            normalize=normalize,
            lambda_=lambda_,
            rescale=rescale,
        )

    return della


PAPER = "Deep et al. 2024, DELLA-Merging, arXiv:2406.11617"


def _check(params: dict) -> str | None:
    for density, epsilon in zip(params.get("density") or [], params.get("epsilon") or []):
        if density is not None and epsilon is not None and (problem := della_range_problem(density, epsilon)):
            return problem
    return None


DELLA = register(
    MergeMethod(
        name="della",
        fn=whole_tensor(_della(consensus=True)),
        streamed=_della(consensus=True),
        params=task_vector_params(normalize=True, rescale=True, extra=(EPSILON,)),
        base_role="separate",
        random=True,
        check_params=_check,
        summary="Task vectors pruned at random with magnitude-ranked keep probabilities, then TIES-merged.",
        paper=PAPER,
    )
)

DELLA_LINEAR = register(
    MergeMethod(
        name="della_linear",
        fn=whole_tensor(_della(consensus=False)),
        streamed=_della(consensus=False),
        params=task_vector_params(normalize=False, rescale=True, extra=(EPSILON,)),
        base_role="separate",
        random=True,
        check_params=_check,
        summary="Task vectors pruned at random with magnitude-ranked keep probabilities, then added.",
        paper=PAPER,
    )
)
