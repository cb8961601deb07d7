"""Specs of the interpolation methods (math in slerp.py, nuslerp.py, multislerp.py, nearswap.py,
arcee_fusion.py)."""

from __future__ import annotations

from modelfusion.methods.spec import MergeMethod, ParamSpec

SLERP = MergeMethod(
    name="slerp",
    fn="modelfusion.methods.slerp:slerp",
    streamed="modelfusion.methods.slerp:slerp_blocks",
    params=(ParamSpec("t", float, required=True, low=0.0, high=1.0, help="0 = base model, 1 = other model"),),
    base_role="separate",
    min_models=1,
    max_models=1,
    passes=lambda params: 2,  # |a|^2, |b|^2, <a, b>; then the output
    summary="Spherical interpolation between exactly two models (lerp when nearly colinear).",
    paper="Shoemake 1985; mergekit, Goddard et al. 2024, arXiv:2403.13257",
)

NUSLERP = MergeMethod(
    name="nuslerp",
    fn="modelfusion.methods.nuslerp:nuslerp",
    params=(
        ParamSpec("weight", float, required=True, per_model=True, help="relative weight; t = w2 / (w1 + w2)"),
        ParamSpec("nuslerp_row_wise", bool, default=False, help="vectors along dim 0, not the last"),
        ParamSpec("nuslerp_flatten", bool, default=True, help="one angle for the whole tensor"),
    ),
    base_role="optional",
    min_models=2,
    max_models=2,
    summary="Weighted SLERP of two models, or of their task vectors when a base is given.",
    paper="Shoemake 1985; mergekit, Goddard et al. 2024, arXiv:2403.13257",
)

MULTISLERP = MergeMethod(
    name="multislerp",
    fn="modelfusion.methods.multislerp:multislerp",
    params=(
        ParamSpec("weight", float, required=True, per_model=True, help="weight of each model"),
        ParamSpec("normalize_weights", bool, default=True, help="scale the weights to sum to 1"),
        ParamSpec("eps", float, default=1e-8, low=0.0, help="numerical floor for norms"),
    ),
    base_role="optional",
    min_models=1,
    summary="Spherical weighted average of several models (task vectors when a base is given).",
    paper="Goddard 2025, Multi-SLERP (goddard.blog); mergekit, arXiv:2403.13257",
)

NEARSWAP = MergeMethod(
    name="nearswap",
    fn="modelfusion.methods.nearswap:nearswap",
    params=(ParamSpec("t", float, required=True, low=0.0, help="similarity scale: larger swaps more"),),
    base_role="separate",
    min_models=1,
    max_models=1,
    summary="Interpolate toward the other model entry by entry, strongly where the two are already close.",
    paper="alchemonaut 2024, QuartetAnemoi-70B-t0.0001 (Hugging Face model card)",
)

ARCEE_FUSION = MergeMethod(
    name="arcee_fusion",
    fn="modelfusion.methods.arcee_fusion:arcee_fusion",
    params=(),
    base_role="separate",
    min_models=1,
    max_models=1,
    summary="Keep the base except where the other model's change is important (above a dynamic threshold).",
    paper="Arcee AI 2025, MergeKit v0.1 / Arcee Fusion (blog)",
)

INTERPOLATION = (SLERP, NUSLERP, MULTISLERP, NEARSWAP, ARCEE_FUSION)
