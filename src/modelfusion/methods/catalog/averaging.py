"""Specs of the averaging methods (math in linear.py, karcher.py, model_stock.py, passthrough.py)."""

from __future__ import annotations

from modelfusion.methods.spec import MergeMethod, ParamSpec

LINEAR = MergeMethod(
    name="linear",
    fn="modelfusion.methods.linear:linear",
    params=(
        ParamSpec("weight", float, default=1.0, per_model=True, help="weight of each model"),
        ParamSpec("normalize", bool, default=True, help="divide by the sum of the weights"),
    ),
    base_role="none",
    min_models=1,
    elementwise=True,
    nonfinite_propagates=True,
    summary="Weighted average of the models' weights (simple average when weights are equal).",
    paper="Wortsman et al. 2022, Model soups, arXiv:2203.05482",
)

KARCHER = MergeMethod(
    name="karcher",
    fn="modelfusion.methods.karcher:karcher",
    params=(
        ParamSpec("max_iter", int, default=10, low=1, help="most fixed-point iterations"),
        ParamSpec("tol", float, default=1e-5, low=0.0, help="stop when the mean tangent is shorter than this"),
    ),
    base_role="none",
    min_models=1,
    summary="Riemannian (Karcher) mean of the models' directions, scaled by their mean norm.",
    paper="Karcher 1977; Buss & Fillmore 2001, Spherical averages and applications",
)

MODEL_STOCK = MergeMethod(
    name="model_stock",
    fn="modelfusion.methods.model_stock:model_stock",
    params=(ParamSpec("filter_wise", bool, default=False, help="one ratio per row instead of per tensor"),),
    base_role="separate",
    min_models=2,
    summary="Average of the fine-tunes pulled toward the base by a ratio computed from their angle.",
    paper="Jang et al. 2024, Model Stock, arXiv:2403.19522",
)

PASSTHROUGH = MergeMethod(
    name="passthrough",
    fn="modelfusion.methods.passthrough:passthrough",
    params=(ParamSpec("scale", float, default=None, per_model=True, help="multiply the tensor by this"),),
    base_role="none",
    min_models=1,
    max_models=1,
    summary="Copy tensors from a single model (layer stacking, frankenmerges), optionally scaled.",
    paper="mergekit, Goddard et al. 2024, arXiv:2403.13257",
)

AVERAGING = (LINEAR, KARCHER, MODEL_STOCK, PASSTHROUGH)
