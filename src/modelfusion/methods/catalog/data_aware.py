"""Specs of the data-aware methods: they consume per-tensor statistics of each model (methods/statistics.py),
produced from calibration data and given in the recipe (`statistics:` per model, docs/methods.md)."""

from __future__ import annotations

from modelfusion.methods.spec import MergeMethod, ParamSpec
from modelfusion.methods.statistics import StatisticSpec

FISHER = MergeMethod(
    name="fisher",
    fn="modelfusion.methods.fisher:fisher",
    params=(
        ParamSpec("weight", float, default=1.0, per_model=True, help="weight of each model"),
        ParamSpec("fisher_floor", float, default=1e-6, low=0.0, help="added to every Fisher entry"),
    ),
    statistics=(
        StatisticSpec(
            "fisher",
            shape="same",
            applies_to="all",
            missing="fallback",
            fallback=(
                "weighted average (tensors with no Fisher entry in any model's file, e.g. float buffers such as "
                "BatchNorm running statistics, which have no gradient)"
            ),
            help="diagonal Fisher information of each merged tensor",
        ),
    ),
    base_role="none",
    min_models=1,
    summary="Fisher-weighted average: each entry weighted by the models' diagonal Fisher information.",
    paper="Matena & Raffel 2022, Merging models with Fisher-weighted averaging, arXiv:2111.09832",
)

REGMEAN = MergeMethod(
    name="regmean",
    fn="modelfusion.methods.regmean:regmean",
    params=(
        ParamSpec("weight", float, default=1.0, per_model=True, help="weight of the plain average (fallback)"),
        ParamSpec("alpha", float, default=0.9, low=0.0, high=1.0, help="scale of each Gram's off-diagonal"),
    ),
    statistics=(
        StatisticSpec(
            "gram",
            shape="input_gram",
            applies_to="matrix",
            missing="fallback",
            fallback="weighted average (tensors that are not 2-D, or have no Gram in any model's file)",
            help="Gram matrix X^T X of the inputs of the linear layer holding the [out, in] weight",
        ),
    ),
    base_role="none",
    min_models=1,
    summary="Linear weights solved in closed form from each model's input Gram matrix; other tensors averaged.",
    paper="Jin et al. 2023, Dataless knowledge fusion by merging weights of language models, arXiv:2212.09849",
)

DATA_AWARE = (FISHER, REGMEAN)
