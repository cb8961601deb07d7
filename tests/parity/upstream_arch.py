"""mergekit 0.1.5's test-suite recipes on its other architectures (tests/test_basic_merges.py: the LLaVA VLM,
GPT-2 and Granite cases; tests/common.py's tiny models, tests/parity/arch_models.py here) and a `modules:`
recipe on T5 (an architecture mergekit defines in modules: encoder, decoder, shared).

Model names as in tests/parity/upstream.py, prefixed by the architecture: mergekit's `vlm_a`, `vlm_b`, `vlm_c`
are `vlm_ft1`, `vlm_ft2`, `vlm_base`; its 12-layer GPT-2 stack ([0, 12] twice) is the tiny GPT-2's [0, 2] twice.
"""

from __future__ import annotations

import json

import torch

from tests.parity.upstream import TEST_SUITE

VLM_CASES = (
    "t_linear", "t_slerp", *(n for n in TEST_SUITE if n.startswith("t_nuslerp")), "t_task_arithmetic",
    "t_breadcrumbs", "t_ties", "t_dare_ties", "t_model_stock", "t_model_stock_filter_wise",
)  # fmt: skip
"""mergekit's test_*_VLM_merge(s) cases: the Llama recipes of the same names on vlm_a, vlm_b, vlm_c."""


def _on(kind: str, recipe: dict) -> dict:
    text = json.dumps(recipe)
    for name in ("ft1", "ft2", "base"):
        text = text.replace(f'"{name}"', f'"{kind}_{name}"')
    return json.loads(text)


VLM = {f"vlm{name[1:]}": _on("vlm", TEST_SUITE[name]) for name in VLM_CASES}
GPT2 = {
    "gpt2_copy": {"merge_method": "passthrough", "models": [{"model": "gpt2_base"}], "dtype": "bfloat16"},
    "gpt2_stack": {
        "merge_method": "passthrough",
        "slices": [{"sources": [{"model": "gpt2_base", "layer_range": [0, 2]}]}] * 2,
        "dtype": "bfloat16",
    },
}
GRANITE = {
    "granite_copy": {"merge_method": "passthrough", "models": [{"model": "granite_ft1"}], "dtype": "bfloat16"},
    "granite_linear": _on("granite", TEST_SUITE["t_linear"]),
    "granite_slerp": {
        "merge_method": "slerp",
        "base_model": "granite_ft1",
        "models": [{"model": "granite_ft1"}, {"model": "granite_ft2"}],
        "parameters": {"t": 0.5},
        "dtype": "bfloat16",
    },
}
MODULES = {
    "modules_t5": {
        "merge_method": "linear",
        "parameters": {"weight": 1.0},
        "modules": {
            "encoder": {
                "models": [
                    {"model": "t5_ft1", "parameters": {"weight": 0.7}},
                    {"model": "t5_ft2", "parameters": {"weight": 0.3}},
                ]
            },
            "decoder": {
                "parameters": {"weight": [{"filter": "DenseReluDense", "value": 0.9}, {"value": 0.5}]},
                "slices": [
                    {
                        "sources": [
                            {"model": "t5_ft1", "layer_range": [0, 1]},
                            {"model": "t5_ft2", "layer_range": [0, 1], "parameters": {"weight": 0.2}},
                        ]
                    },
                    {
                        "sources": [
                            {"model": "t5_base", "layer_range": [1, 2]},
                            {"model": "t5_ft1", "layer_range": [1, 2]},
                        ],
                        "parameters": {"weight": [0.1]},
                    },
                ],
            },
            "shared": {"models": [{"model": "t5_ft1"}, {"model": "t5_base"}]},
        },
        "dtype": "bfloat16",
    },
}
"""A `modules:` recipe: each module its own form (models / slices) and parameters at every level."""

ARCH: dict[str, dict] = {**VLM, **GPT2, **GRANITE, **MODULES}
ARCH_RANDOM = {"vlm_dare_ties"}
ARCH_MODELS = tuple(f"{k}_{n}" for k in ("vlm", "granite", "gpt2", "t5") for n in ("base", "ft1", "ft2"))


def vlm_outcome(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> tuple[dict, str]:
    """mergekit 0.1.5 writes a LLaVA merge under transformers 5's names (`model.vision_tower.*` for the
    checkpoint's `vision_tower.*`) and leaves the language model out: its tensors renamed back, and a note
    naming what it left out."""
    renamed = {k.removeprefix("model."): v for k, v in theirs.items()}
    missing = sorted(set(ours) - set(renamed))
    if not missing or set(renamed) - set(ours):
        return theirs, ""
    roots = sorted({n.split(".")[0] for n in missing})
    return renamed, f"mergekit leaves out {len(missing)} of {len(ours)} tensors ({', '.join(roots)}.*)"


def every() -> tuple[dict[str, dict | list], set[str]]:
    """tests/parity/upstream.py's recipes and these: (name -> recipe, the random ones)."""
    from tests.parity.upstream import RANDOM, UPSTREAM

    return {**UPSTREAM, **ARCH}, RANDOM | ARCH_RANDOM
