"""Per-trial merge cost: in memory (inputs held), in memory (inputs streamed from the files per trial), and
written to disk then loaded again (mergekit-evolve's default). A benchmark, run by hand (never by CI):

    .venv/bin/python bench/search/measure_overhead.py [--layers 12] [--dim 512] [--rounds 5] [--out FILE.json]

Rounds alternate the three ways (A B C A B C ...); medians are printed as JSON (and written to --out). The table
is in docs/search.md ("In-memory trials: cost").
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def make_models(root: Path, layers: int, dim: int) -> dict[str, Path]:
    g = torch.Generator().manual_seed(0)
    base = {f"model.layers.{i}.mlp.weight": torch.randn(dim, dim, generator=g) for i in range(layers)}
    folders = {}
    for name in ("base", "a", "b"):
        state = base if name == "base" else {k: v + 0.01 * torch.randn(v.shape, generator=g) for k, v in base.items()}
        (root / name).mkdir()
        save_file(state, str(root / name / "model.safetensors"))
        folders[name] = root / name
    return folders


def main() -> None:
    from modelfusion import merge
    from modelfusion.recipe_search.trial_merge import TrialMerger

    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON result here")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp())
    try:
        m = make_models(root, args.layers, args.dim)
        recipe = {
            "merge_method": "task_arithmetic",
            "base_model": str(m["base"]),
            "models": [
                {"model": str(m["a"]), "parameters": {"weight": 0.4}},
                {"model": str(m["b"]), "parameters": {"weight": 0.6}},
            ],
        }
        held = TrialMerger([str(p) for p in m.values()], None)
        held.hold()
        streamed = TrialMerger([str(p) for p in m.values()], None)
        r = held.resolve(recipe)

        def to_disk() -> dict:
            out = root / "out"
            merge(recipe, out, overwrite=True, threads=1)
            return load_file(str(out / "model.safetensors"))

        ways = {
            "in_memory_held": lambda: held.merge(r),
            "in_memory_streamed": lambda: streamed.merge(r),
            "write_reload": to_disk,
        }
        times: dict[str, list[float]] = {k: [] for k in ways}
        for _ in range(args.rounds):
            for name, fn in ways.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
        med = {k: statistics.median(v) for k, v in times.items()}
        mb = held.input_bytes / 2**20
        result = {
            "command": f"measure_overhead.py --layers {args.layers} --dim {args.dim} --rounds {args.rounds}",
            "input_mib": round(mb, 1),
            "rounds": args.rounds,
            "median_seconds": med,
            "write_reload_over_held": med["write_reload"] / med["in_memory_held"],
        }
        print(json.dumps(result, indent=1))
        if args.out is not None:
            args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        held.close()
        streamed.close()
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
