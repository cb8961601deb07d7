"""Accuracy of a LoRA adapter extracted from a real fine-tune, against its rank.

    python -m bench.lora.rank_vs_accuracy                      # fortune_files, seed 0, ranks 1..64 and full
    python -m bench.lora.rank_vs_accuracy --task fortune_files --seed 0 --ranks 1,2,4,8,16,32,64,384

The quality benchmark's text fine-tune of all-MiniLM-L6-v2 (400 train/class, 2 epochs, lr 3e-4, batch 32,
max_length 32: the suite's cached model, never retrained here) is the fine-tune. For each rank,
`modelfusion extract-lora FINETUNE --base BASE OUT --rank R` writes an adapter (once with the other changed tensors
skipped, the default, once with `--full-modules`), the adapter is applied to the base as a user would, with a
`passthrough` recipe of `model: BASE+ADAPTER` and `modelfusion merge`, and the merged encoder is scored with the
fine-tune's own head on the task's test split. Reported per rank: test accuracy, adapter size, and the relative
reconstruction errors of extraction_report.json (median and worst module, and all LoRA modules together, weighted
by ||Delta||). A rank above min(out, in) = 384 is full rank.
Writes bench/lora/results/rank-vs-accuracy-<task>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def backend():
    """The text quality suite's backend: its fortune_files budget (400 train/class, 2 epochs, lr 3e-4, batch 32)."""
    from bench.quality.suites import TEXT

    return TEXT.backend


def ensure_cached(b, task: str, seed: int, cache: Path) -> None:
    """Stop unless the fine-tune and probe are already in the suite's cache (prepare would train them)."""
    from dataclasses import replace

    from bench.quality.store import _fingerprint

    base, t, config = b.base(cache), b.task(task, seed), replace(b.budget(task).finetune, seed=seed)
    folder = cache / "finetuned" / f"{task}-{_fingerprint(base, t, config, b.max_length, 'finetune')}"
    probe = cache / "probes" / f"{task}-probe-{_fingerprint(base, t, config, b.max_length, 'probe')}.safetensors"
    if not (folder / "head.safetensors").is_file() or not probe.is_file():
        raise SystemExit(f"{task} seed {seed} is not cached under {cache} (run the quality suite first)")


def run(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=ENV, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def delta_norms(base: Path, ft: Path) -> dict[str, float]:
    """||W_ft - W_base||_F of every tensor, by name."""
    from modelfusion.checkpoint import open_checkpoint

    with open_checkpoint(base) as b, open_checkpoint(ft) as f:
        return {n: float((f.read(n).double() - b.read(n).double()).norm()) for n in f.infos if n in b.infos}


def max_weight_difference(a: Path, b: Path, report: Path) -> dict[str, float]:
    """Largest |difference| between two folders, over the LoRA modules' weights and over every tensor both hold."""
    from modelfusion.checkpoint import open_checkpoint

    lora = {m["tensor"] for m in json.loads(report.read_text())["modules"] if m["kind"] == "lora"}
    with open_checkpoint(a) as x, open_checkpoint(b) as y:
        diff = {n: float((x.read(n).double() - y.read(n).double()).abs().max()) for n in set(x.infos) & set(y.infos)}
    return {"lora_weights": max(diff[n] for n in lora), "all_tensors": max(diff.values())}


def errors(report: Path, norms: dict[str, float]) -> dict:
    report_modules = json.loads(report.read_text())["modules"]
    modules = [m for m in report_modules if m["kind"] == "lora"]
    e = [m["relative_error"] for m in modules]
    num = sum((m["relative_error"] * norms[m["tensor"]]) ** 2 for m in modules)
    den = sum(norms[m["tensor"]] ** 2 for m in modules)
    return {
        "lora_modules": len(modules),
        "other_changed_tensors": {
            kind: sum(m["kind"] == kind for m in report_modules) for kind in ("skipped", "saved whole")
        },
        "ranks": sorted({m["rank"] for m in modules}),
        "median_relative_error": statistics.median(e),
        "max_relative_error": max(e),
        "min_relative_error": min(e),
        "relative_error_all_lora_modules": (num / den) ** 0.5,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="fortune_files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ranks", default="1,2,4,8,16,32,64,384")
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / ".cache" / "quality" / "suite-text")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "lora-rank")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ranks = [int(r) for r in args.ranks.split(",")]

    b = backend()
    ensure_cached(b, args.task, args.seed, args.cache)
    start = time.perf_counter()
    p = b.prepare(args.task, args.seed, args.cache, 1)
    prepare_s = time.perf_counter() - start
    base = Path(b.base(None))
    heads = {args.task: (p.task, p.head)}

    def accuracy(folder: Path) -> float:
        ok = b.correct(folder, heads, "test")[args.task]
        return sum(ok) / len(ok)

    n_test = len(p.task.targets("test"))
    probe = b.correct(base, {args.task: (p.task, p.probe)}, "test")[args.task]
    reference = {
        "finetune": accuracy(p.folder),
        "base_with_finetuned_head": accuracy(base),
        "base_with_probe_head": sum(probe) / len(probe),
        "finetune_encoder_mb": sum(f.stat().st_size for f in p.folder.glob("*.safetensors")) / 1e6,
    }
    print(f"test examples {n_test}; " + ", ".join(f"{k} {v:.4f}" for k, v in reference.items()), flush=True)
    norms = delta_norms(base, p.folder)

    bindir = Path(sys.executable).parent
    modelfusion = str(bindir / "modelfusion")
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for full in (False, True):
        for rank in ranks:
            adapter = args.work / f"adapter-r{rank}{'-full' if full else ''}"
            merged = args.work / f"merged-r{rank}{'-full' if full else ''}"
            cmd = [modelfusion, "extract-lora", str(p.folder), "--base", str(base), str(adapter)]
            cmd += ["--rank", str(rank), "--quiet", "--overwrite"] + (["--full-modules"] if full else [])
            extract_s = run(cmd)
            recipe = args.work / "recipe.yaml"
            recipe.write_text(
                f"merge_method: passthrough\ndtype: float32\nmodels:\n  - model: {base}+{adapter}\n", encoding="utf-8"
            )
            merge_s = run([modelfusion, "merge", str(recipe), str(merged), "--threads", "1", "--quiet", "--overwrite"])
            row = {
                "rank": rank,
                "full_modules": full,
                "accuracy": accuracy(merged),
                "adapter_mb": (adapter / "adapter_model.safetensors").stat().st_size / 1e6,
                **errors(adapter / "extraction_report.json", norms),
                "extract_s": round(extract_s, 2),
                "merge_s": round(merge_s, 2),
            }
            if rank == max(ranks):
                row["max_abs_difference_to_finetune"] = max_weight_difference(
                    merged, p.folder, adapter / "extraction_report.json"
                )
            rows.append(row)
            print(
                f"rank {rank:4d} {'full-modules' if full else 'lora-only   '} accuracy {row['accuracy']:.4f}  "
                f"adapter {row['adapter_mb']:.2f} MB  error median {row['median_relative_error']:.3f} "
                f"max {row['max_relative_error']:.3f} all {row['relative_error_all_lora_modules']:.3f}",
                flush=True,
            )
            shutil.rmtree(merged)

    result = {
        "command": " ".join(["python -m bench.lora.rank_vs_accuracy", *sys.argv[1:]]),
        "task": args.task,
        "seed": args.seed,
        "finetune": {"train_per_class": 400, "epochs": 2, "learning_rate": 3e-4, "batch_size": 32, "max_length": 32},
        "finetune_folder": str(p.folder.relative_to(ROOT)) if p.folder.is_relative_to(ROOT) else str(p.folder),
        "prepare_s": round(prepare_s, 2),
        "test_examples": n_test,
        "reference": reference,
        "apply": "modelfusion merge of `merge_method: passthrough, dtype: float32, models: [{model: BASE+ADAPTER}]`",
        "machine": platform.platform(),
        "rows": rows,
    }
    path = ROOT / "bench" / "lora" / "results" / f"rank-vs-accuracy-{args.task}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(path)


if __name__ == "__main__":
    main()
