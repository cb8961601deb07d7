"""DARE: drop task-vector entries at random, rescale the rest; then add (dare_linear) or TIES-merge (dare_ties).

Yu et al. 2023, "Language models are Super Mario: absorbing abilities from homologous models as a free lunch"
(arXiv:2311.03099).
"""

from __future__ import annotations

import torch

from modelfusion.methods.registry import register
from modelfusion.methods.sparsify import apply_mask, random_mask
from modelfusion.methods.spec import MergeMethod
from modelfusion.methods.task_vectors import merge_task_vectors, task_vector_params


def _dare(consensus: bool):
    def dare(
        tensors: list[torch.Tensor],
        *,
        base: torch.Tensor | None,
        weight: list[float],
        density: list[float],
        normalize: bool,
        rescale: bool,
        lambda_: float,
        int8_mask: bool,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """m_ij ~ Bernoulli(density_i); delta_i' = m_i delta_i (* ||delta_i||_1 / ||m_i delta_i||_1 if rescale);
        then task arithmetic (dare_linear) or sign election + disjoint mean (dare_ties)."""
        return merge_task_vectors(
            tensors,
            base,
            weight,
            sparsifier=lambda d, i: apply_mask(d, random_mask(d, density[i], generator), rescale),
            consensus=consensus,
            normalize=normalize,
            lambda_=lambda_,
        )

    return dare


PAPER = "Yu et al. 2023, Language models are Super Mario (DARE), arXiv:2311.03099"

DARE_LINEAR = register(
    MergeMethod(
        name="dare_linear",
        fn=_dare(consensus=False),
        params=task_vector_params(normalize=False, rescale=True),
        base_role="separate",
        random=True,
        summary="Task vectors randomly pruned to `density` and rescaled, then added to the base.",
        paper=PAPER,
    )
)

DARE_TIES = register(
    MergeMethod(
        name="dare_ties",
        fn=_dare(consensus=True),
        params=task_vector_params(normalize=False, rescale=True),
        base_role="separate",
        random=True,
        summary="Task vectors randomly pruned and rescaled, then sign-elected and merged as in TIES.",
        paper=PAPER,
    )
)
