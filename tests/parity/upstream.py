"""mergekit 0.1.5's own recipes, ported to the parity suite's tiny models: its `examples/*.yml`, the multi-merge
example of its docs (docs/multimerge.md) and the configs of its test suite (tests/test_basic_merges.py, the
Llama cases; its VLM, GPT-2 and Granite cases are the same recipes on other architectures).

Model names are replaced as a mergekit user would replace hub ids by local checkpoints: the 13B Llamas of the
examples by `ft1`..`ft3` (fine-tunes of `base`), the base of a recipe by `base`; mergekit's tests' `model_a`,
`model_b`, `model_c` by `ft1`, `ft2`, `base`. Layer ranges are scaled from 40 layers to the tiny models' 4.

`UPSTREAM`: name -> recipe (a dict, or a list of dicts for a multi-stage recipe, the last one unnamed).
`RANDOM`: recipes that draw random masks (the two tools draw different ones: compared by shape only).
`REFUSED`: recipes mergekit itself refuses (both tools must refuse them).
"""

from __future__ import annotations

import json

A, B, C = "ft1", "ft2", "base"


def _two(method: str, base: str | None = None, params: dict | None = None, **extra) -> dict:
    """mergekit's `two_model_config`: model_a weight 0.6, model_b weight 0.4, dtype bfloat16."""
    recipe: dict = {
        "merge_method": method,
        "models": [{"model": A, "parameters": {"weight": 0.6}}, {"model": B, "parameters": {"weight": 0.4}}],
        "dtype": "bfloat16",
    }
    if base:
        recipe["base_model"] = base
    if params:
        recipe["parameters"] = params
    return {**recipe, **extra}


EXAMPLES: dict[str, dict | list] = {
    "ex_arcee_fusion": {
        "models": [{"model": A}, {"model": B}],
        "merge_method": "arcee_fusion",
        "base_model": A,
        "dtype": "bfloat16",
    },
    "ex_bio_merge": {
        "models": [
            {"model": "ft1", "parameters": {"density": 0.5, "weight": 0.5}},
            {"model": "ft2", "parameters": {"density": 0.5, "weight": 0.5}},
        ],
        "merge_method": "ties",
        "base_model": "base",
        "parameters": {"normalize": False, "int8_mask": True},
        "dtype": "float16",
    },
    "ex_gradient_slerp": {
        "slices": [{"sources": [{"model": "ft1", "layer_range": [0, 4]}, {"model": "ft2", "layer_range": [0, 4]}]}],
        "merge_method": "slerp",
        "base_model": "ft1",
        "parameters": {
            "t": [
                {"filter": "self_attn", "value": [0, 0.5, 0.3, 0.7, 1]},
                {"filter": "mlp", "value": [1, 0.5, 0.7, 0.3, 0]},
                {"value": 0.5},
            ]
        },
        "dtype": "float16",
    },
    "ex_linear": {
        "models": [
            {"model": "ft1", "parameters": {"weight": 1.0}},
            {"model": "ft2", "parameters": {"weight": 0.3}},
            {"model": "ft3", "parameters": {"weight": 0.5}},
        ],
        "merge_method": "linear",
        "dtype": "float16",
    },
    "ex_orcamini_platy_44layer": {
        "slices": [
            {"sources": [{"model": "ft1", "layer_range": [0, 3]}]},
            {"sources": [{"model": "ft2", "layer_range": [2, 4]}]},
        ],
        "merge_method": "passthrough",
        "dtype": "float16",
    },
    "ex_ties": {
        "models": [
            {"model": "ft1", "parameters": {"density": [1, 0.7, 0.1], "weight": 1.0}},
            {"model": "ft2", "parameters": {"density": 0.5, "weight": [0, 0.3, 0.7, 1]}},
            {
                "model": "ft3",
                "parameters": {"density": 0.33, "weight": [{"filter": "mlp", "value": 0.5}, {"value": 0}]},
            },
        ],
        "merge_method": "ties",
        "base_model": "base",
        "parameters": {"normalize": True, "int8_mask": True},
        "dtype": "float16",
    },
    "docs_multimerge": [
        {
            "name": "mfupfirstmerge",
            "merge_method": "linear",
            "models": [{"model": "base"}, {"model": "ft1"}],
            "parameters": {"weight": 0.5},
        },
        {
            "name": "mfupsecondmerge",
            "merge_method": "slerp",
            "base_model": "mfupfirstmerge",
            "models": [{"model": "ft2"}],
            "parameters": {"t": 0.5},
        },
        {
            "merge_method": "dare_ties",
            "base_model": "base",
            "models": [
                {"model": "mfupsecondmerge", "parameters": {"density": 0.6, "weight": 0.5}},
                {"model": "ft3", "parameters": {"density": 0.8, "weight": 0.5}},
            ],
        },
    ],
}

STOCK_MODELS = [{"model": B, "parameters": {"weight": 0.6}}, {"model": C, "parameters": {"weight": 0.4}}]
"""mergekit's model_stock tests merge model_b and model_c on base model_a (here ft2 and base on ft1)."""

TEST_SUITE: dict[str, dict | list] = {
    "t_copy": {"merge_method": "passthrough", "models": [{"model": A}], "dtype": "bfloat16"},
    "t_stack": {
        "merge_method": "passthrough",
        "slices": [{"sources": [{"model": A, "layer_range": [0, 4]}]}] * 2,
        "dtype": "bfloat16",
    },
    "t_passthrough_scale": {
        "merge_method": "passthrough",
        "models": [{"model": A, "parameters": {"scale": [{"filter": "o_proj", "value": 0}, {"value": 1}]}}],
    },
    "t_linear": _two("linear"),
    "t_slerp": _two("slerp", A, {"t": 0.35}),
    **{
        f"t_nuslerp_{'base' if base else 'nobase'}_{'row' if row else 'norow'}_{'flat' if flat else 'noflat'}": _two(
            "nuslerp", base, {"nuslerp_row_wise": row, "nuslerp_flatten": flat}
        )
        for base in (None, C)
        for row in (False, True)
        for flat in (False, True)
    },
    "t_nuslerp_zero_sum": {
        **_two("nuslerp", C, {"nuslerp_row_wise": False, "nuslerp_flatten": False}),
        "models": [{"model": A, "parameters": {"weight": -0.5}}, {"model": B, "parameters": {"weight": 0.5}}],
    },
    "t_task_arithmetic": _two("task_arithmetic", C),
    "t_breadcrumbs": _two("breadcrumbs", C),
    "t_ties": _two("ties", C, {"density": 0.3}),
    "t_sce": _two("sce", C, {"select_topk": 0.5}),
    "t_ram": _two("ram", C),
    "t_ramplus_tl": _two("ramplus_tl", C, {"r": 0.05, "alpha": 1.0}),
    "t_multislerp": _two("multislerp", C),
    "t_dare_ties": _two("dare_ties", C, {"density": 0.66}),
    "t_model_stock": {**_two("model_stock", A), "models": STOCK_MODELS},
    "t_model_stock_filter_wise": {**_two("model_stock", A, {"filter_wise": True}), "models": STOCK_MODELS},
    "t_arcee_fusion": _two("arcee_fusion", A),
    "t_nearswap": _two("nearswap", A, {"t": 0.0001}),
    "t_della": _two("della", C, {"density": 0.66, "epsilon": 0.05, "lambda": 0.5}),
    "t_della_invalid_epsilon": _two("della", C, {"density": 0.66, "epsilon": 1.35, "lambda": 0.5}),
    "t_karcher": _two("karcher", C, {"max_iter": 5, "tol": 1e-5}),
}

UPSTREAM: dict[str, dict | list] = {**EXAMPLES, **TEST_SUITE}
RANDOM = {"docs_multimerge", "t_dare_ties", "t_della"}
REFUSED = {"t_della_invalid_epsilon"}


HALF = {"bfloat16": "bf16", "float16": "f16"}
MODEL_NAMES = (
    "base",
    "ft1",
    "ft2",
    "ft3",
    *(f"{k}_{n}" for k in ("vlm", "granite", "gpt2", "t5") for n in ("base", "ft1", "ft2")),
)
"""The models with `_bf16` / `_f16` copies (tests/parity/harness.py, tests/parity/arch_models.py: `_bf16` only)."""


def as_float32(recipe: dict | list) -> dict | list:
    """The recipe's float32 reference: mergekit computing in float32 on the inputs rounded to the recipe's
    `dtype` (copies `<model>_bf16` / `<model>_f16`) and writing the recipe's dtype. modelfusion rounds inputs to
    `dtype` and computes in float32 (docs/recipes.md), so its output is this one within rounding."""
    if isinstance(recipe, list):
        return recipe
    dtype = recipe.get("dtype")
    if dtype not in HALF:
        return recipe
    text = json.dumps({**recipe, "dtype": "float32", "out_dtype": recipe.get("out_dtype", dtype)})
    for name in MODEL_NAMES:
        text = text.replace(f'"{name}"', f'"{name}_{HALF[dtype]}"')
    return json.loads(text)
