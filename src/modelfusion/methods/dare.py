"""DARE: drop task-vector entries at random, rescale the rest; then add (dare_linear) or TIES-merge (dare_ties).

Yu et al. 2023, "Language models are Super Mario: absorbing abilities from homologous models as a free lunch"
(arXiv:2311.03099).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from modelfusion.methods.blocks import BlockSource, whole_tensor
from modelfusion.methods.keep_rules import KeepRandom
from modelfusion.methods.registry import register
from modelfusion.methods.spec import MergeMethod
from modelfusion.methods.task_vectors import stream_task_vectors, task_vector_params


def _dare(consensus: bool):
    def dare(
        source: BlockSource,
        *,
        weight: list[float],
        density: list[float],
        normalize: bool,
        rescale: bool,
        lambda_: float,
        int8_mask: bool,
    ) -> Iterator[torch.Tensor]:
        """m_ij ~ Bernoulli(density_i); delta_i' = m_i delta_i (* ||delta_i||_1 / ||m_i delta_i||_1 if rescale);
        then task arithmetic (dare_linear) or sign election + disjoint mean (dare_ties)."""
        return stream_task_vectors(
            source,
            weight,
            keep=[KeepRandom(d) for d in density],
            consensus=consensus,
            normalize=normalize,
            lambda_=lambda_,
            rescale=rescale,
        )

    return dare


PAPER = "Yu et al. 2023, Language models are Super Mario (DARE), arXiv:2311.03099"

DARE_LINEAR = register(
    MergeMethod(
        name="dare_linear",
        fn=whole_tensor(_dare(consensus=False)),
        streamed=_dare(consensus=False),
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
        fn=whole_tensor(_dare(consensus=True)),
        streamed=_dare(consensus=True),
        params=task_vector_params(normalize=False, rescale=True),
        base_role="separate",
        random=True,
        summary="Task vectors randomly pruned and rescaled, then sign-elected and merged as in TIES.",
        paper=PAPER,
    )
)
