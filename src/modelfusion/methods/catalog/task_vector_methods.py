"""Specs of the task-vector family, each a few declarative lines over one streamed pipeline.

Every method is `task_vectors.stream_task_vectors` (formulas in task_vectors.py) with a keep rule
(keep_rules.py) and with or without TIES sign election:

    delta_i = theta_i - theta_base;  delta_i' = m_i delta_i (m_i from the keep rule; * L1 ratio if rescale)
    d_i = w_i delta_i';  c_i = [sign(d_i) = sign(sum_k d_k)] with consensus, else 1
    theta = theta_base + lambda * sum_i c_i d_i / (sum_i c_i w_i if normalize)

- task_arithmetic: no pruning (`density` and `rescale` accepted, ignored, as mergekit). Ilharco et al. 2022.
- ties: keep the floor(density n) largest |delta|; consensus. Yadav et al. 2023.
- dare_linear / dare_ties: keep each entry with probability density, rescale. Yu et al. 2023.
- breadcrumbs / breadcrumbs_ties: drop the floor(gamma n) largest and the smallest, keep floor(density n).
  Davari & Belilovsky 2023.
- della_linear / della: per row, keep the entry of ascending-magnitude rank r of m with probability
  density - epsilon + 2 epsilon r / (m - 1), rescale. Deep et al. 2024.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from modelfusion.methods.spec import MergeMethod, ParamSpec

KeepName = Literal["all", "largest", "middle", "random", "ranked"]
"""keep_rules.py: KeepAll, KeepLargest (TIES), KeepMiddle (Breadcrumbs), KeepRandom (DARE), KeepRanked (DELLA)."""

FAMILY = "modelfusion.methods.task_vector_merge:task_vector_merge"


def task_vector_params(*, normalize: bool, rescale: bool, extra: tuple[ParamSpec, ...] = ()) -> tuple[ParamSpec, ...]:
    """The parameters every task-vector method takes, with mergekit's names, defaults and scopes."""
    return (
        ParamSpec("weight", float, required=True, per_model=True, help="weight of the model's task vector"),
        ParamSpec("density", float, default=1.0, low=0.0, high=1.0, per_model=True, help="fraction of entries kept"),
        *extra,
        ParamSpec("normalize", bool, default=normalize, help="divide by the sum of the (agreeing) weights"),
        ParamSpec("rescale", bool, default=rescale, help="rescale survivors to the task vector's L1 norm"),
        ParamSpec("lambda", float, default=1.0, arg="lambda_", help="scale of the merged task vector"),
        ParamSpec("int8_mask", bool, default=False, help="accepted for mergekit compatibility; masks are bool"),
    )


def _passes(keep: KeepName) -> Callable[[Mapping[str, Any]], int]:
    """Magnitude windows take a pass to find their cuts, rescaling one for the L1 sums, then the output."""
    return lambda params: 1 + (keep in ("largest", "middle")) + (keep != "all" and bool(params.get("rescale")))


def task_vector_method(
    name: str,
    *,
    keep: KeepName,
    consensus: bool,
    summary: str,
    paper: str,
    normalize: bool = False,
    rescale: bool = False,
    extra: tuple[ParamSpec, ...] = (),
    check_params: Callable[[dict[str, Any]], str | None] | None = None,
) -> MergeMethod:
    """A task-vector method: keep rule + consensus + defaults + extra per-model parameters."""
    return MergeMethod(
        name=name,
        fn=None,
        streamed=FAMILY,
        bound=(("keep", keep), ("consensus", consensus)),
        params=task_vector_params(normalize=normalize, rescale=rescale, extra=extra),
        base_role="separate",
        random=keep in ("random", "ranked"),
        check_params=check_params,
        passes=_passes(keep),
        summary=summary,
        paper=paper,
    )


def della_range_problem(density: float, epsilon: float) -> str | None:
    """DELLA needs 0 < density - epsilon and density + epsilon < 1 (unless density >= 1: nothing dropped)."""
    if density < 1 and not (density - epsilon > 0 and density + epsilon < 1):
        return (
            f"della: density - epsilon and density + epsilon must lie in (0, 1), got density={density}, "
            f"epsilon={epsilon}; lower epsilon"
        )
    return None


def _della_check(params: dict) -> str | None:
    for density, epsilon in zip(params.get("density") or [], params.get("epsilon") or []):
        if density is not None and epsilon is not None and (problem := della_range_problem(density, epsilon)):
            return problem
    return None


GAMMA = ParamSpec(
    "gamma", float, default=0.01, low=0.0, high=1.0, per_model=True, help="fraction of largest entries dropped"
)
EPSILON = ParamSpec(
    "epsilon",
    float,
    default=0.15,
    low=0.0,
    high=0.5,
    per_model=True,
    help="half-width of the keep-probability range; needs 0 < density - epsilon, density + epsilon < 1",
)

TASK_ARITHMETIC_PAPER = "Ilharco et al. 2022, Editing models with task arithmetic, arXiv:2212.04089"
TIES_PAPER = "Yadav et al. 2023, TIES-Merging, arXiv:2306.01708"
DARE_PAPER = "Yu et al. 2023, Language models are Super Mario (DARE), arXiv:2311.03099"
BREADCRUMBS_PAPER = "Davari & Belilovsky 2023, Model Breadcrumbs, arXiv:2312.06795"
DELLA_PAPER = "Deep et al. 2024, DELLA-Merging, arXiv:2406.11617"

TASK_VECTOR = (
    task_vector_method(
        "task_arithmetic",
        keep="all",
        consensus=False,
        summary="Add the weighted task vectors (model - base) to the base model.",
        paper=TASK_ARITHMETIC_PAPER,
    ),
    task_vector_method(
        "ties",
        keep="largest",
        consensus=True,
        normalize=True,
        summary="Task vectors trimmed to their largest entries, sign-elected, then averaged where they agree.",
        paper=TIES_PAPER,
    ),
    task_vector_method(
        "dare_linear",
        keep="random",
        consensus=False,
        rescale=True,
        summary="Task vectors randomly pruned to `density` and rescaled, then added to the base.",
        paper=DARE_PAPER,
    ),
    task_vector_method(
        "dare_ties",
        keep="random",
        consensus=True,
        rescale=True,
        summary="Task vectors randomly pruned and rescaled, then sign-elected and merged as in TIES.",
        paper=DARE_PAPER,
    ),
    task_vector_method(
        "breadcrumbs",
        keep="middle",
        consensus=False,
        extra=(GAMMA,),
        summary="Task vectors without their smallest and largest entries, added to the base.",
        paper=BREADCRUMBS_PAPER,
    ),
    task_vector_method(
        "breadcrumbs_ties",
        keep="middle",
        consensus=True,
        extra=(GAMMA,),
        summary="Breadcrumbs pruning followed by TIES sign election and disjoint merge.",
        paper=BREADCRUMBS_PAPER,
    ),
    task_vector_method(
        "della",
        keep="ranked",
        consensus=True,
        normalize=True,
        rescale=True,
        extra=(EPSILON,),
        check_params=_della_check,
        summary="Task vectors pruned at random with magnitude-ranked keep probabilities, then TIES-merged.",
        paper=DELLA_PAPER,
    ),
    task_vector_method(
        "della_linear",
        keep="ranked",
        consensus=False,
        rescale=True,
        extra=(EPSILON,),
        check_params=_della_check,
        summary="Task vectors pruned at random with magnitude-ranked keep probabilities, then added.",
        paper=DELLA_PAPER,
    ),
)

SCE = MergeMethod(
    name="sce",
    fn="modelfusion.methods.sce:sce",
    params=(
        ParamSpec(
            "select_topk", float, default=1.0, low=0.0, high=1.0, help="fraction of highest-variance positions kept"
        ),
        ParamSpec("int8_mask", bool, default=False, help="accepted for mergekit compatibility; masks are bool"),
    ),
    base_role="separate",
    summary="Task vectors restricted to high-variance positions, weighted by their energy, TIES-merged.",
    paper="Wan et al. 2024, FuseChat (SCE), arXiv:2408.07990",
)
