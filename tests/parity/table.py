"""Print the equivalence table of docs/methods.md: every recipe through mergekit 0.1.5 and modelfusion.

    .venv/bin/python -m tests.parity.table [work_dir] [--json out.json]

Deterministic recipes: max |modelfusion - mergekit| over every tensor (float32), or in bf16 ulps.
Random recipes: kept fraction and rescale error (float32 rounding units) of each side, seed 0.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from safetensors.torch import load_file

from tests.parity.harness import build_models, load_folder, run_mergekit, run_modelfusion
from tests.parity.metrics import as_bf16, kept_fraction, max_abs_diff, max_bf16_ulps, rescale_error
from tests.parity.recipes import ALL, BF16, BF16_REPORTED, DETERMINISTIC, RANDOM


def measure(work: Path) -> dict:
    models = build_models(work / "models")
    start = time.perf_counter()
    theirs = run_mergekit(ALL, models, work / "mergekit")
    mergekit_s = time.perf_counter() - start
    start = time.perf_counter()
    rows: dict[str, dict] = {}
    for name, recipe in {
        **DETERMINISTIC,
        **BF16,
        **BF16_REPORTED,
        **RANDOM,
    }.items():  # the *_via_f32 runs are references
        ours = load_folder(run_modelfusion(recipe, models, work / "modelfusion" / name))
        ref = load_folder(theirs[name])
        if name in DETERMINISTIC:
            rows[name] = {"method": recipe["merge_method"], "max_abs_diff_f32": max_abs_diff(ours, ref)}
        elif name in BF16 or name in BF16_REPORTED:
            reference = as_bf16(load_folder(theirs[f"{name}_via_f32"]))
            rows[name] = {
                "method": recipe["merge_method"],
                "differing_fraction_vs_f32_reference": sum(int((ours[k] != reference[k]).sum()) for k in ref)
                / sum(t.numel() for t in ref.values()),
                "ulps_vs_f32_reference": max_bf16_ulps(ours, reference),
                "mergekit_bf16_ulps_vs_f32_reference": max_bf16_ulps(ref, reference),
                "max_abs_diff_vs_mergekit_bf16": max_abs_diff(ours, ref),
            }
        else:
            base = load_file(str(models["base"] / "model.safetensors"))
            ft = load_file(str(models["ft1"] / "model.safetensors"))
            row = {"method": recipe["merge_method"]}
            if "single" in name:
                for who, out in (("modelfusion", ours), ("mergekit", ref)):
                    row[f"kept_{who}"] = kept_fraction(out, base)
                    row[f"rescale_err_{who}"] = rescale_error(out, base, ft)
            rows[name] = row
    return {"rows": rows, "mergekit_seconds": mergekit_s, "modelfusion_seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("work", nargs="?")
    parser.add_argument("--json")
    args = parser.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="mf-parity-"))
    result = measure(work)
    print("| recipe | method | max abs diff vs mergekit |")
    print("|---|---|---|")
    for name, row in result["rows"].items():
        if "max_abs_diff_f32" in row:
            value = f"{row['max_abs_diff_f32']:.1e} (float32)"
        elif "ulps_vs_f32_reference" in row:
            value = (
                f"{row['max_abs_diff_vs_mergekit_bf16']:.1e} (bf16); vs mergekit-float32-rounded: modelfusion "
                f"{row['ulps_vs_f32_reference']:.2g} ulp, "
                f"mergekit bf16 {row['mergekit_bf16_ulps_vs_f32_reference']:.3g} ulp"
            )
        elif "kept_mergekit" in row:
            value = (
                f"kept {row['kept_modelfusion']:.4f} vs {row['kept_mergekit']:.4f}; rescale error "
                f"{row['rescale_err_modelfusion']:.1f} / {row['rescale_err_mergekit']:.1f} float32 units"
            )
        else:
            continue
        print(f"| {name} | {row['method']} | {value} |")
    print(
        f"\nmergekit-multi (all recipes, one process): {result['mergekit_seconds']:.1f} s; "
        f"modelfusion (all recipes): {result['modelfusion_seconds']:.1f} s"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
