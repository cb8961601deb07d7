"""The recipes compared against mergekit 0.1.5: one tiny Llama base and three 'fine-tunes' (base + noise).

`DETERMINISTIC` must match within 1e-6 (float32); `BF16` within the tolerance stated in docs/methods.md;
`RANDOM` are compared by statistics (see test_random_methods.py).
"""

from __future__ import annotations

import json

TA_WEIGHTS = [0.5, 0.3, 0.4]


def _models(names: list[str], params: list[dict] | None = None) -> list[dict]:
    params = params or [{}] * len(names)
    return [{"model": n, **({"parameters": p} if p else {})} for n, p in zip(names, params)]


def _task(method: str, per_model: list[dict], top: dict | None = None, **extra) -> dict:
    recipe = {"merge_method": method, "base_model": "base", "models": _models(["ft1", "ft2", "ft3"], per_model)}
    if top:
        recipe["parameters"] = top
    return {**recipe, **extra}


def _w(**kw) -> list[dict]:
    """Per-model parameters: each keyword is a list of three values."""
    return [{k: v[i] for k, v in kw.items()} for i in range(3)]


DETERMINISTIC: dict[str, dict] = {
    "linear": {"merge_method": "linear", "models": _models(["ft1", "ft2", "ft3"], _w(weight=[1.0, 2.0, 0.5]))},
    "slerp": {
        "merge_method": "slerp",
        "base_model": "ft1",
        "models": _models(["ft1", "ft2"]),
        "parameters": {"t": 0.3},
    },
    "task_arithmetic": _task("task_arithmetic", _w(weight=TA_WEIGHTS), {"lambda": 1.2}),
    "task_arithmetic_normalize": _task("task_arithmetic", _w(weight=TA_WEIGHTS), {"normalize": True}),
    "ties": _task("ties", _w(weight=TA_WEIGHTS, density=[0.5, 0.7, 0.3])),
    "ties_rescale_nonorm": _task(
        "ties", _w(weight=[1.0, 1.0, 1.0], density=[0.4, 0.6, 0.5]), {"rescale": True, "normalize": False}
    ),
    "breadcrumbs": _task("breadcrumbs", _w(weight=TA_WEIGHTS, density=[0.8, 0.7, 0.9], gamma=[0.05, 0.1, 0.02])),
    "breadcrumbs_ties": _task("breadcrumbs_ties", _w(weight=TA_WEIGHTS, density=[0.8, 0.7, 0.9])),
    "model_stock": _task("model_stock", [{}, {}, {}]),
    "model_stock_filter_wise": _task("model_stock", [{}, {}, {}], {"filter_wise": True}),
    "sce": _task("sce", [{}, {}, {}], {"select_topk": 0.5}),
    "nuslerp": {"merge_method": "nuslerp", "models": _models(["ft1", "ft2"], [{"weight": 0.3}, {"weight": 0.7}])},
    "nuslerp_base_rows": {
        "merge_method": "nuslerp",
        "base_model": "base",
        "models": _models(["ft1", "ft2"], [{"weight": 1.0}, {"weight": 2.0}]),
        "parameters": {"nuslerp_flatten": False},
    },
    "multislerp": {"merge_method": "multislerp", "models": _models(["ft1", "ft2", "ft3"], _w(weight=[0.2, 0.5, 0.3]))},
    "multislerp_base": _task("multislerp", _w(weight=[1.0, 1.0, 2.0])),
    "karcher": {"merge_method": "karcher", "models": _models(["ft1", "ft2", "ft3"])},
    "nearswap": {
        "merge_method": "nearswap",
        "base_model": "base",
        "models": _models(["ft1"]),
        "parameters": {"t": 0.002},
    },
    "arcee_fusion": {"merge_method": "arcee_fusion", "base_model": "base", "models": _models(["ft1"])},
    "nuslerp_zero_sum": {
        "merge_method": "nuslerp",
        "base_model": "base",
        "models": _models(["ft1", "ft2"], [{"weight": -0.5}, {"weight": 0.5}]),
    },
    "ram": _task("ram", [{}, {}, {}]),
    "ramplus_tl": _task("ramplus_tl", [{}, {}, {}], {"r": 0.05, "alpha": 1.0}),
    "linear_star_filter": {
        "merge_method": "linear",
        "models": _models(["ft1", "ft2"]),
        "parameters": {
            "weight": [{"filter": "mlp", "value": 2.0}, {"filter": "*", "value": 0.5}],
            "normalize": False,
        },
    },
    "passthrough_scale": {
        "merge_method": "passthrough",
        "models": _models(["ft1"]),
        "parameters": {"scale": [{"filter": "mlp", "value": 0.5}, {"value": 1.0}]},
    },
}

BF16_MODELS = ("base", "ft1", "ft2", "ft3")
"""bf16 recipes run on bf16 copies of the models (`<name>_bf16`), as real bf16 checkpoints are merged."""


def _bf16(recipe: dict) -> dict:
    text = json.dumps(recipe)
    for name in BF16_MODELS:
        text = text.replace(f'"{name}"', f'"{name}_bf16"')
    return json.loads(text)


BF16: dict[str, dict] = {
    "task_arithmetic_bf16": _bf16(DETERMINISTIC["task_arithmetic"]),
    "ties_consensus_bf16": _bf16(_task("ties", _w(weight=TA_WEIGHTS))),  # density 1: sign election in bf16
    "model_stock_bf16": _bf16(DETERMINISTIC["model_stock"]),
    "multislerp_bf16": _bf16(DETERMINISTIC["multislerp"]),
}
BF16_REPORTED = {"ties_bf16": _bf16(DETERMINISTIC["ties"])}
"""Measured for docs/methods.md, not asserted: bf16 deltas have many exactly equal magnitudes, and which of the
equal ones survive a density cut is the order of mergekit's unstable full sort (modelfusion: index order)."""
BF16_VIA_F32: dict[str, dict] = {
    f"{name}_via_f32": {**r, "dtype": "float32"} for name, r in {**BF16, **BF16_REPORTED}.items()
}
"""The same bf16 inputs computed by mergekit in float32: rounded to bf16, the reference for modelfusion's bf16."""

DENSITY = 0.3
RANDOM: dict[str, dict] = {
    # one model: the output minus the base is that model's sparsified task vector, so masks can be read back
    "dare_single": {
        "merge_method": "dare_linear",
        "base_model": "base",
        "models": _models(["ft1"], [{"weight": 1.0, "density": DENSITY}]),
    },
    "della_single": {
        "merge_method": "della_linear",
        "base_model": "base",
        "models": _models(["ft1"], [{"weight": 1.0, "density": DENSITY, "epsilon": 0.2}]),
    },
}

ALL = {**DETERMINISTIC, **BF16, **BF16_REPORTED, **BF16_VIA_F32, **RANDOM}
"""Everything mergekit runs (one mergekit-multi process)."""
