"""modelfusion vs mergekit 0.1.5 on the foundation's recipe semantics: linear, slerp, gradients, filter lists,
parameter precedence, slices, base_model handling, dtype / out_dtype. Prints a markdown table, writes JSON.

    .venv/bin/python bench/foundation_parity.py            # ~2 min on 2 cores (mergekit runs once, all recipes)

mergekit is a black box (one `mergekit-multi` process, offline, CPU); tiny random Llamas (4 layers).
"a"/"b" are independent random models (true SLERP); ft1..ft3 are a base plus small noise (nearly colinear).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.parity.harness import build_models, load_folder, run_mergekit, run_modelfusion  # noqa: E402
from tests.tiny_models import save_tiny_model  # noqa: E402

OUT_JSON = REPO / "docs" / "foundation_parity.json"
GRADIENT = [0.0, 0.5, 1.0, 0.2, 0.7]
CANON_T = [
    {"filter": "self_attn", "value": [0, 0.5, 0.3, 0.7, 1]},
    {"filter": "mlp", "value": [1, 0.5, 0.7, 0.3, 0]},
    {"value": 0.5},
]


def _slices(a: str, b: str, ranges: list[tuple[int, int]], **extra) -> list[dict]:
    return [
        {"sources": [{"model": a, "layer_range": list(r)}, {"model": b, "layer_range": list(r)}], **extra}
        for r in ranges
    ]


def recipes() -> dict[str, dict]:
    def lin(*names: str, **kw) -> dict:
        return {"merge_method": "linear", "models": [{"model": n} for n in names], **kw}

    probe = {"normalize": False}  # second model at weight 0: the output is w * first, so w is visible per tensor
    r: dict[str, dict] = {
        "linear 3 models, weights 1/2/.5": {
            "merge_method": "linear",
            "dtype": "float32",
            "models": [
                {"model": m, "parameters": {"weight": w}} for m, w in (("ft1", 1.0), ("ft2", 2.0), ("ft3", 0.5))
            ],
        },
        "linear, base_model not listed": {
            **lin("ft1", dtype="float32"),
            "base_model": "base",
            "parameters": {"weight": 1.0},
        },
        "linear, 5-point gradient": {
            "merge_method": "linear",
            "dtype": "float32",
            "models": [
                {"model": "a", "parameters": {"weight": GRADIENT}},
                {"model": "b", "parameters": {"weight": 0.0}},
            ],
            "parameters": probe,
        },
        "linear, filters + precedence": {
            "merge_method": "linear",
            "dtype": "float32",
            "models": [
                {"model": "a", "parameters": {"weight": [{"filter": "up_proj", "value": 0.55}]}},
                {"model": "b", "parameters": {"weight": 0.0}},
            ],
            "parameters": {
                **probe,
                "weight": [
                    {"filter": "self_attn", "value": 0.3},
                    {"filter": "q_proj", "value": 0.4},
                    {"filter": "mlp", "value": [0.0, 1.0]},
                    {"value": 0.9},
                ],
            },
        },
        "linear, slices [0,1)+[1,4) gradients": {
            "merge_method": "linear",
            "dtype": "float32",
            "slices": [
                {
                    "sources": [
                        {"model": "a", "layer_range": lo_hi},
                        {"model": "b", "layer_range": lo_hi, "parameters": {"weight": 0.0}},
                    ],
                    "parameters": {"weight": w},
                }
                for lo_hi, w in (([0, 1], [0.2, 0.4]), ([1, 4], [0.6, 0.8]))
            ],
            "parameters": {**probe, "weight": 0.123},
        },
        "slerp t=0.5 (a, b)": {
            "merge_method": "slerp",
            "base_model": "a",
            "dtype": "float32",
            "models": [{"model": "a"}, {"model": "b"}],
            "parameters": {"t": 0.5},
        },
        "slerp t=0.3 (base, ft1: colinear)": {
            "merge_method": "slerp",
            "base_model": "base",
            "dtype": "float32",
            "models": [{"model": "ft1"}],
            "parameters": {"t": 0.3},
        },
        "slerp canonical slices+filters": {
            "merge_method": "slerp",
            "base_model": "a",
            "dtype": "float32",
            "slices": _slices("a", "b", [(0, 4)]),
            "parameters": {"t": CANON_T},
        },
    }
    bf16 = {
        "linear 3 models bf16": {
            "merge_method": "linear",
            "dtype": "bfloat16",
            "models": [
                {"model": m, "parameters": {"weight": w}}
                for m, w in (("ft1_bf16", 0.2), ("ft2_bf16", 0.3), ("ft3_bf16", 0.5))
            ],
        },
        "slerp canonical bf16": {
            "merge_method": "slerp",
            "base_model": "a_bf16",
            "dtype": "bfloat16",
            "slices": _slices("a_bf16", "b_bf16", [(0, 4)]),
            "parameters": {"t": CANON_T},
        },
        "linear f32 inputs, dtype bf16": {**lin("a", "b", dtype="bfloat16"), "parameters": {"weight": 1.0}},
        "slerp f32 inputs, dtype bf16": {
            "merge_method": "slerp",
            "base_model": "a",
            "dtype": "bfloat16",
            "slices": _slices("a", "b", [(0, 4)]),
            "parameters": {"t": CANON_T},
        },
        "linear f32, out_dtype bf16": {
            **lin("a", "b", dtype="float32", out_dtype="bfloat16"),
            "parameters": {"weight": 1.0},
        },
    }
    return {**r, **bf16}


def _ulps(mk: torch.Tensor, mf: torch.Tensor) -> float:
    """Largest difference in units in the last place of the stored dtype."""
    if mk.dtype not in (torch.bfloat16, torch.float16):
        return 0.0
    bits = 7 if mk.dtype == torch.bfloat16 else 10
    mag = torch.maximum(mk.double().abs(), mf.double().abs()).clamp_min(1e-30)
    ulp = torch.exp2(torch.floor(torch.log2(mag)) - bits)
    return float(((mk.double() - mf.double()).abs() / ulp).max())


def compare(mk_dir: Path, mf_dir: Path) -> dict:
    mk, mf = load_folder(mk_dir), load_folder(mf_dir)
    assert mk.keys() == mf.keys(), sorted(set(mk) ^ set(mf))[:5]
    diffs = {n: float((mk[n].double() - mf[n].double()).abs().max()) for n in mk}
    differ = sum(int((mk[n] != mf[n]).sum()) for n in mk)
    total = sum(mk[n].numel() for n in mk)
    return {
        "max_abs_diff": max(diffs.values()),
        "worst_tensor": max(diffs, key=diffs.get),
        "max_ulps": max(_ulps(mk[n], mf[n]) for n in mk),
        "elements_differing": differ,
        "elements": total,
        "dtype": str(next(iter(mk.values())).dtype).removeprefix("torch."),
        "dtypes_equal": all(mk[n].dtype == mf[n].dtype for n in mk),
    }


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="mf-parity-"))
    models = build_models(root / "models")
    for i, name in enumerate(("a", "b")):
        folder = save_tiny_model("llama", root / "models" / name, seed=40 + i)
        models[name] = folder
        bf = root / "models" / f"{name}_bf16"
        bf.mkdir()
        from safetensors.torch import load_file, save_file

        tensors = {k: v.bfloat16() for k, v in load_file(folder / "model.safetensors").items()}
        save_file(tensors, bf / "model.safetensors", metadata={"format": "pt"})
        config = json.loads((folder / "config.json").read_text())
        (bf / "config.json").write_text(json.dumps({**config, "dtype": "bfloat16", "torch_dtype": "bfloat16"}))
        models[f"{name}_bf16"] = bf
    all_recipes = recipes()
    mk_out = run_mergekit(all_recipes, models, root / "mergekit")
    rows = {}
    for name, recipe in all_recipes.items():
        mf_dir = run_modelfusion(recipe, models, root / "modelfusion" / name.replace(" ", "_").replace("/", "-"))
        rows[name] = compare(mk_out[name], mf_dir)
    print("| recipe | dtype | max abs diff | max ulps | elements differing |")
    print("|---|---|---|---|---|")
    for name, row in rows.items():
        ulps = f"{row['max_ulps']:.0f}" if row["dtype"] != "float32" else "-"
        print(
            f"| {name} | {row['dtype']} | {row['max_abs_diff']:.2e} | {ulps} | "
            f"{row['elements_differing']} / {row['elements']} |"
        )
    OUT_JSON.write_text(json.dumps({"command": "python bench/foundation_parity.py", "rows": rows}, indent=2) + "\n")
    print(f"\nwrote {OUT_JSON.relative_to(REPO)}")


if __name__ == "__main__":
    main()
