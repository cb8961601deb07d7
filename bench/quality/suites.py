"""The ranking benchmark (issue 15): a text suite and a vision suite, several seeds, bootstrap intervals.

    .venv/bin/python -m bench.quality.suites --suite text              # -> docs/quality-suites.json (suites.text)
    .venv/bin/python -m bench.quality.suites --suite vision
    .venv/bin/python -m bench.quality.suites --suite text --qualify    # fine-tune vs probe per candidate task only
    .venv/bin/python -m bench.quality.suites --quick                   # 1 seed, small grids -> *-quick.json

Per seed s (the split seed and the fine-tuning seed): every task is fine-tuned (LP-FT) and probed; the fine-tuned
encoders/backbones are merged with each method through `modelfusion merge`; each method's main hyper-parameter is
chosen on the validation splits (mean over tasks of merged / fine-tuned validation accuracy); the chosen merge is
re-merged and scored once on test. Every merged model is scored on each task with that task's fine-tuned head.
Reference rows: the frozen base with probe heads (what the >= 10-point rule compares against), the frozen base with
the fine-tuned heads (FusionBench's zero point for gain kept), and each task's own fine-tune.

Per-example correctness is cached (bench/.cache/quality/suite-<suite>/), so intervals come from a paired bootstrap:
each replicate draws seeds with replacement and, within each (seed, task), test examples with replacement, the same
draw for every method, so differences between methods get intervals too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from bench.quality.backends import Prepared, TextBackend, TextBudget, VisionBackend
from bench.quality.finetune import FinetuneConfig
from bench.quality.recipes import write_recipe
from bench.quality.settings import FIXED
from bench.quality.vision import VisionConfig
from modelfusion.evaluate import SplitSizes

ROOT = Path(__file__).resolve().parents[2]

GRIDS: dict[str, tuple[str | None, tuple[float | None, ...]]] = {
    "simple_average": (None, (None,)),
    "task_arithmetic": ("lambda", (0.1, 0.2, 0.3, 0.5, 1.0)),
    "ties": ("lambda", (0.3, 0.5, 1.0)),
    "dare_ties": ("lambda", (0.3, 0.5, 1.0)),
    "dare_linear": ("lambda", (0.1, 0.2, 0.3, 0.5)),
    "breadcrumbs": ("lambda", (0.1, 0.2, 0.3, 0.5)),
    "della": ("lambda", (0.1, 0.2, 0.3, 0.5)),
    "model_stock": (None, (None,)),
    # issue 16: the SVD family (alpha on validation) and the data-aware methods (their defaults)
    "tsv": ("alpha", (0.5, 1.0, 1.5, 2.0, 2.5)),
    "iso_c": ("alpha", (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)),
    "iso_cts": ("alpha", (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)),
    "regmean": ("alpha", (0.9,)),
    "fisher": (None, (None,)),
}
"""Method -> (tuned parameter, validation grid). Fixed parameters: bench.quality.settings.FIXED."""
QUICK_GRIDS = {
    "simple_average": (None, (None,)),
    "task_arithmetic": ("lambda", (0.3,)),
    "ties": ("lambda", (1.0,)),
    "dare_ties": ("lambda", (1.0,)),
}


@dataclass(frozen=True)
class Suite:
    name: str
    backend: TextBackend | VisionBackend
    tasks: tuple[str, ...]
    """Tasks that qualified (>= 10 points over the frozen probe, >= 400 test examples); see `candidates`."""
    candidates: tuple[str, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    grids: dict = field(default_factory=lambda: GRIDS)


PROBING_SIZES = SplitSizes(
    test_fraction=0.25,
    validation_fraction=0.1,
    max_train_per_class=1000,
    max_validation_per_class=50,
    max_test_per_class=300,
)
"""Binary probing tasks: 2000 training, 100 validation and 600 test sentences."""
TOPIC_SIZES = SplitSizes(
    test_fraction=0.25,
    validation_fraction=0.1,
    max_train_per_class=400,
    max_validation_per_class=8,
    max_test_per_class=30,
)
"""fortune_files (24 classes): up to 400 training, 8 validation and 30 test fortunes per class (720 test)."""
LENGTH_SIZES = SplitSizes(
    test_fraction=0.25,
    validation_fraction=0.1,
    max_train_per_class=500,
    max_validation_per_class=15,
    max_test_per_class=100,
)
"""sentence_length (7 bins): 3500 training, 105 validation and 700 test sentences."""
TEXT_FINETUNE = FinetuneConfig(epochs=2, batch_size=32, learning_rate=3e-4)
TEXT = Suite(
    name="text",
    backend=TextBackend(
        sizes=PROBING_SIZES,
        finetune=TEXT_FINETUNE,
        max_length=32,
        budgets=(
            ("fortune_files", TextBudget(TOPIC_SIZES, TEXT_FINETUNE)),
            ("sentence_length", TextBudget(LENGTH_SIZES, TEXT_FINETUNE)),
        ),
    ),
    tasks=("fortune_files", "bigram_shift", "truncated", "clause_swap", "sentence_order", "sentence_length"),
    candidates=("fortune_files", "bigram_shift", "truncated", "clause_swap", "sentence_order", "sentence_length"),
)
VISION = Suite(
    name="vision",
    backend=VisionBackend(
        sizes=SplitSizes(
            test_fraction=0.25,
            validation_fraction=0.1,
            max_train_per_class=600,
            max_validation_per_class=50,
            max_test_per_class=100,
        ),
        config=VisionConfig(
            size=32, batch_size=32, learning_rate=1e-4, weight_decay=0.0, steps=400, warmup_steps=40, max_grad_norm=1.0
        ),
    ),
    tasks=("letters", "font_digits", "greek"),
    candidates=("letters", "font_digits", "greek", "fashion"),
    # RegMean's Gram matrices are for linear layers; EfficientNet-Lite0's backbone has none (its 1x1 convolutions are
    # Conv2d), so regmean would be the plain average there: left out of the vision grid.
    grids={m: g for m, g in GRIDS.items() if m != "regmean"},
)
SUITES = {"text": TEXT, "vision": VISION}


def _prepare(backend, name: str, seed: int, cache: Path, threads: int) -> tuple[str, int, Prepared]:
    return name, seed, backend.prepare(name, seed, cache, threads)


def prepare_all(suite: Suite, tasks, seeds, cache: Path, jobs: int, threads: int) -> dict[tuple[str, int], Prepared]:
    """Fine-tunes and probes of every (task, seed), `jobs` at a time in worker processes (cached)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = [pool.submit(_prepare, suite.backend, t, s, cache, threads) for s in seeds for t in tasks]
        out = {}
        for f in futures:
            name, seed, prepared = f.result()
            out[(name, seed)] = prepared
            print(f"  prepared {name} seed {seed}", flush=True)
        return out


SVD_METHODS = ("tsv", "iso_c", "iso_cts")
DATA_AWARE = ("regmean", "fisher")


def recipe_for(
    method: str, value: float | None, base: Path, models: list[Path], extras: list[dict] | None = None
) -> dict:
    """The recipe of one grid point; `extras[i]` is added to model i's entry (calibration data, statistics)."""
    entries = [{"model": str(m), **(extras[i] if extras else {})} for i, m in enumerate(models)]
    out: dict = {"dtype": "float32"}
    if method == "simple_average":
        return out | {"merge_method": "linear", "models": entries}
    if method == "model_stock":
        return out | {"merge_method": "model_stock", "base_model": str(base), "models": entries}
    if method in SVD_METHODS:
        return out | {
            "merge_method": method,
            "base_model": str(base),
            "models": entries,
            "parameters": {"alpha": value},
        }
    if method == "regmean":
        return out | {"merge_method": method, "models": entries, "parameters": {"alpha": value}}
    if method == "fisher":
        return out | {"merge_method": method, "models": entries}
    per_model = {"weight": 1.0, **FIXED.get(method, {})}
    out |= {
        "merge_method": method,
        "base_model": str(base),
        "models": [{**e, "parameters": dict(per_model)} for e in entries],
        "parameters": {"lambda": float(value)},
    }
    if method in ("ties", "dare_ties", "della"):
        out["parameters"]["normalize"] = True
    return out


@dataclass
class Scorer:
    """Per-example correctness of model folders and merges, cached as JSON keyed by what determines it."""

    suite: Suite
    cache: Path
    seconds: dict = field(default_factory=lambda: {"merge": 0.0, "evaluate": 0.0})
    merges: int = 0
    costs: dict = field(default_factory=dict)
    """Merge name -> {merge_seconds, peak_rss_mb} of its last `modelfusion merge` (None: measured before costs)."""

    def _path(self, what: dict, split: str, seed: int, tasks) -> Path:
        key = json.dumps([what, split, seed, list(tasks), repr(self.suite.backend)], sort_keys=True, default=str)
        return self.cache / "correct" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"

    def folder(self, folder: Path, heads: dict, split: str, seed: int, what: dict) -> dict[str, list[int]]:
        path = self._path(what, split, seed, heads)
        if path.is_file():
            return json.loads(path.read_text())["correct"]
        t0 = time.perf_counter()
        got = self.suite.backend.correct(folder, heads, split)
        self.seconds["evaluate"] += time.perf_counter() - t0
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"what": what, "split": split, "seed": seed, "correct": got}))
        return got

    def merged(self, data: dict, name: str, heads: dict, split: str, seed: int) -> dict[str, list[int]]:
        path = self._path({"recipe": data}, split, seed, heads)
        if path.is_file():
            saved = json.loads(path.read_text())
            self.costs[name] = saved.get("cost")
            return saved["correct"]
        recipe_file = write_recipe(data, self.cache / "recipes" / f"{name}.yaml")
        out = self.cache / "merged" / name
        exe = Path(sys.executable).with_name("modelfusion")
        stats = self.cache / "merged" / f"{name}.time"
        stats.parent.mkdir(parents=True, exist_ok=True)
        cmd = [str(exe), "merge", str(recipe_file), str(out), "--quiet", "--overwrite", "-j", "1"]
        t0 = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(stats), *cmd], capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        self.seconds["merge"] += seconds
        self.merges += 1
        if done.returncode != 0:
            raise RuntimeError(f"modelfusion merge {recipe_file} failed:\n{done.stdout}\n{done.stderr}")
        # wall seconds of `modelfusion merge` (calibration included when the recipe computes statistics) and its
        # peak resident memory (GNU time's maximum RSS, KiB)
        cost = {"merge_seconds": round(seconds, 2), "peak_rss_mb": round(int(stats.read_text().split()[-1]) / 1024)}
        self.costs[name] = cost
        try:
            correct = self.folder(out, heads, split, seed, {"recipe": data})
            saved = json.loads(path.read_text())
            path.write_text(json.dumps(saved | {"cost": cost}))
            return correct
        finally:
            import shutil

            shutil.rmtree(out, ignore_errors=True)


def acc(bits: list[int]) -> float:
    return sum(bits) / len(bits)


def data_inputs(suite: Suite, method: str, p: dict, seed: int, cache: Path) -> list[dict] | None:
    """Per-model recipe additions of the data-aware methods (bench.quality.data_aware); None for the others."""
    from bench.quality import data_aware

    if method == "regmean":
        return [
            {
                "calibration": {
                    "text": str(data_aware.calibration_text(p[t].task, seed, cache)),
                    "max_length": suite.backend.max_length,
                }
            }
            for t in suite.tasks
        ]
    if method == "fisher":
        return [{"statistics": str(data_aware.fisher_file(suite.backend, p[t], seed, cache))} for t in suite.tasks]
    return None


def run_seed(suite: Suite, seed: int, prepared: dict, scorer: Scorer, base: Path, grids: dict) -> dict:
    """Every row's test correctness at one seed, plus each method's validation grid and choice."""
    tasks = suite.tasks
    p = {t: prepared[(t, seed)] for t in tasks}
    heads = {t: (p[t].task, p[t].head) for t in tasks}
    probes = {t: (p[t].task, p[t].probe) for t in tasks}
    rows: dict[str, dict] = {}
    ft_val = {}
    ft_test = {}
    for t in tasks:
        ref = {"finetuned": str(p[t].folder)}
        ft_val[t] = acc(scorer.folder(p[t].folder, {t: heads[t]}, "validation", seed, ref)[t])
        ft_test[t] = scorer.folder(p[t].folder, {t: heads[t]}, "test", seed, ref)[t]
    rows["finetuned"] = {"test": ft_test, "validation_accuracy": ft_val}
    rows["base_probe"] = {"test": scorer.folder(base, probes, "test", seed, {"base": "probe"})}
    rows["base_ft_heads"] = {"test": scorer.folder(base, heads, "test", seed, {"base": "ft-heads"})}
    models = [p[t].folder for t in tasks]
    for method, (param, values) in grids.items():
        extras = data_inputs(suite, method, p, seed, scorer.cache)
        grid = []
        for v in values:
            data = recipe_for(method, v, base, models, extras)
            val = scorer.merged(data, f"{method}-{v}-s{seed}", heads, "validation", seed)
            norm = float(np.mean([acc(val[t]) / ft_val[t] for t in tasks]))
            grid.append({"value": v, "validation_normalized": norm, "validation": {t: acc(val[t]) for t in tasks}})
        best = max(grid, key=lambda g: g["validation_normalized"])
        data = recipe_for(method, best["value"], base, models, extras)
        test = scorer.merged(data, f"{method}-{best['value']}-s{seed}", heads, "test", seed)
        cost = dict(scorer.costs.get(f"{method}-{best['value']}-s{seed}") or {})
        if method == "fisher":
            from bench.quality import data_aware

            cost["calibration_seconds"] = round(sum(data_aware.FISHER_SECONDS.get((t, seed), 0.0) for t in tasks), 1)
        rows[method] = {"test": test, "param": param, "chosen": best["value"], "grid": grid, "cost": cost}
        print(f"  seed {seed} {method} {param}={best['value']}: " + " ".join(f"{acc(test[t]):.3f}" for t in tasks))
    return rows


def bootstrap(per_seed: dict[int, dict], tasks, methods, reps: int = 1000, rng_seed: int = 0) -> dict:
    """Means and 95% percentile intervals of accuracies, normalized accuracy and gain kept (paired bootstrap over
    seeds and test examples), and of each pair of methods' gain-kept difference."""
    rng = np.random.default_rng(rng_seed)
    seeds = sorted(per_seed)
    rows = ["base_probe", "base_ft_heads", "finetuned", *methods]
    # acc[row][seed_i, task_j, rep] (test-example resampling), and the point estimates without resampling
    boot = {r: np.zeros((len(seeds), len(tasks), reps)) for r in rows}
    point = {r: np.zeros((len(seeds), len(tasks))) for r in rows}
    for i, s in enumerate(seeds):
        for j, t in enumerate(tasks):
            n = len(per_seed[s]["finetuned"]["test"][t])
            idx = rng.integers(0, n, size=(reps, n))
            for r in rows:
                bits = np.asarray(per_seed[s][r]["test"][t], dtype=np.float64)
                boot[r][i, j] = bits[idx].mean(1)
                point[r][i, j] = bits.mean()
    pick = rng.integers(0, len(seeds), size=(reps, len(seeds)))  # seeds drawn with replacement

    def over_seeds(a: np.ndarray) -> np.ndarray:  # (S, T, B) -> (T, B): mean over the drawn seeds
        return np.stack([a[pick[b], :, b].mean(0) for b in range(reps)], axis=1)

    def cell(p: float, b: np.ndarray) -> dict:
        lo, hi = np.percentile(b, [2.5, 97.5])
        return {"mean": round(float(p), 4), "ci95": [round(float(lo), 4), round(float(hi), 4)]}

    acc_b = {r: over_seeds(boot[r]) for r in rows}
    acc_p = {r: point[r].mean(0) for r in rows}
    ft_b, z_b = boot["finetuned"], boot["base_ft_heads"]
    ft_p, z_p = point["finetuned"], point["base_ft_heads"]
    out: dict = {"rows": {}}
    gk_b = {}
    for r in rows:
        norm_b = over_seeds(boot[r] / ft_b).mean(0)
        gk_b[r] = over_seeds((boot[r] - z_b) / (ft_b - z_b)).mean(0)
        out["rows"][r] = {
            "accuracy": {t: cell(acc_p[r][j], acc_b[r][j]) for j, t in enumerate(tasks)},
            "mean_accuracy": cell(acc_p[r].mean(), acc_b[r].mean(0)),
            "normalized": cell((point[r] / ft_p).mean(), norm_b),
            "gain_kept": cell(((point[r] - z_p) / (ft_p - z_p)).mean(), gk_b[r]),
        }
    diffs = {}
    for a in methods:
        for b in methods:
            if a < b:
                d = gk_b[a] - gk_b[b]
                lo, hi = np.percentile(d, [2.5, 97.5])
                p_a = out["rows"][a]["gain_kept"]["mean"] - out["rows"][b]["gain_kept"]["mean"]
                diffs[f"{a} - {b}"] = {
                    "mean": round(p_a, 4),
                    "ci95": [round(float(lo), 4), round(float(hi), 4)],
                    "significant": bool(lo > 0 or hi < 0),
                }
    out["gain_kept_differences"] = diffs
    return out


def qualify(names, prepared: dict, scorer: Scorer, base: Path, seeds) -> dict:
    """Fine-tune vs frozen-base probe per candidate task (test accuracy, mean over seeds)."""
    out = {}
    for t in names:
        ft, pr, n = [], [], 0
        for s in seeds:
            p = prepared[(t, s)]
            ref = {"finetuned": str(p.folder)}
            ft.append(acc(scorer.folder(p.folder, {t: (p.task, p.head)}, "test", s, ref)[t]))
            pr.append(acc(scorer.folder(base, {t: (p.task, p.probe)}, "test", s, {"base": "probe"})[t]))
            n = len(p.task.splits["test"] if isinstance(p.task.splits, dict) else p.task.splits.test)
        gain = float(np.mean(ft) - np.mean(pr))
        out[t] = {
            "n_test": n,
            "n_classes": len(p.task.labels),
            "n_train": len(p.task.splits["train"] if isinstance(p.task.splits, dict) else p.task.splits.train),
            "base_probe_acc": round(float(np.mean(pr)), 4),
            "finetune_acc": round(float(np.mean(ft)), 4),
            "gain_points": round(100 * gain, 1),
            "per_seed": {"finetune": ft, "probe": pr},
            "qualifies": bool(gain >= 0.10 and n >= 400),
        }
        print(f"  {t}: n_test {n}, probe {np.mean(pr):.3f}, fine-tune {np.mean(ft):.3f}, gain {100 * gain:+.1f}")
    return out


def run_suite(
    suite: Suite,
    cache: Path,
    jobs: int,
    threads: int,
    quick: bool,
    only_qualify: bool,
    search_trials: int = 0,
    adamerging_steps: int = 0,
) -> dict:
    start = time.perf_counter()
    seeds = suite.seeds[:1] if quick else suite.seeds
    grids = QUICK_GRIDS if quick else suite.grids
    base = suite.backend.base(cache)
    names = suite.candidates if only_qualify else suite.tasks
    print(f"[{time.perf_counter() - start:5.0f}s] {suite.name}: fine-tuning {len(names)} tasks x {len(seeds)} seeds")
    prepared = prepare_all(suite, names, seeds, cache, jobs, threads)
    t_finetune = time.perf_counter() - start
    scorer = Scorer(suite, cache)
    qual = qualify(names, prepared, scorer, base, seeds)
    result: dict = {"seeds": list(seeds), "candidates": qual}
    if not only_qualify:
        per_seed = {}
        methods = list(grids)
        for s in seeds:
            print(f"[{time.perf_counter() - start:5.0f}s] {suite.name}: merging seed {s}")
            per_seed[s] = run_seed(suite, s, prepared, scorer, base, grids)
            if search_trials:
                from bench.quality.search_rows import search_rows

                p = {t: prepared[(t, s)] for t in suite.tasks}
                ft_val = per_seed[s]["finetuned"]["validation_accuracy"]
                per_seed[s] |= search_rows(suite, s, p, scorer, base, ft_val, search_trials)
            if adamerging_steps:
                from bench.quality.adamerging_rows import adamerging_rows

                p = {t: prepared[(t, s)] for t in suite.tasks}
                per_seed[s] |= adamerging_rows(suite, s, p, scorer, base, adamerging_steps)
        if search_trials:
            methods += ["search_tpe", "greedy_soup"]
        if adamerging_steps:
            methods.append("adamerging")
        stats = bootstrap(per_seed, suite.tasks, methods)
        result |= {
            "tasks": {
                t: {
                    k: qual[t][k]
                    for k in ("n_test", "n_classes", "n_train", "base_probe_acc", "finetune_acc", "gain_points")
                }
                for t in suite.tasks
            },
            "methods": {
                m: {
                    "gain_kept": stats["rows"][m]["gain_kept"],
                    "normalized": stats["rows"][m]["normalized"],
                    "mean_accuracy": stats["rows"][m]["mean_accuracy"],
                    "accuracy": stats["rows"][m]["accuracy"],
                    "param": per_seed[seeds[0]][m]["param"],
                    "chosen_per_seed": [per_seed[s][m]["chosen"] for s in seeds],
                    "grids_per_seed": [per_seed[s][m]["grid"] for s in seeds],
                    "cost_per_seed": [per_seed[s][m].get("cost") for s in seeds],
                    **(
                        {"search_per_seed": [per_seed[s][m]["search"] for s in seeds]}
                        if "search" in per_seed[seeds[0]][m]
                        else {}
                    ),
                    **(
                        {"adamerging_per_seed": [per_seed[s][m]["adamerging"] for s in seeds]}
                        if "adamerging" in per_seed[seeds[0]][m]
                        else {}
                    ),
                }
                for m in methods
            },
            "reference": {r: stats["rows"][r] for r in ("base_probe", "base_ft_heads", "finetuned")},
            "gain_kept_differences": stats["gain_kept_differences"],
        }
    result["settings"] = {
        "tasks": list(suite.tasks),
        "backend": {
            k: (asdict(v) if hasattr(v, "__dataclass_fields__") else v)
            for k, v in vars(suite.backend).items()
            if k != "budgets"
        }
        | {"budgets": {name: asdict(b) for name, b in getattr(suite.backend, "budgets", ())}},
        "grids": {m: list(v[1]) for m, v in grids.items()},
        "fixed": FIXED,
    }
    result["timing"] = {
        "total_seconds": round(time.perf_counter() - start, 1),
        "finetune_seconds_this_run": round(t_finetune, 1),
        "merge_seconds_this_run": round(scorer.seconds["merge"], 1),
        "evaluate_seconds_this_run": round(scorer.seconds["evaluate"], 1),
        "merges_this_run": scorer.merges,
    }
    return result


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=[*SUITES, "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="one seed, four methods, one value each")
    parser.add_argument("--qualify", action="store_true", help="only fine-tune vs probe per candidate task")
    parser.add_argument("--seeds", type=int, nargs="*", help="override the suite's seeds")
    parser.add_argument("--methods", nargs="*", help="only these methods of the grid (default: all)")
    parser.add_argument("--search-trials", type=int, default=0, help="also the search rows (issue 17), N TPE trials")
    parser.add_argument(
        "--adamerging-steps", type=int, default=0, help="also the AdaMerging row (layer-wise), N steps (0: skip)"
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / ".cache" / "quality")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    suffix = "-quick" if args.quick else ""
    out_file = args.out / f"quality-suites{suffix}.json"
    results = json.loads(out_file.read_text()) if out_file.is_file() else {}
    results.setdefault("suites", {})
    for name in SUITES if args.suite == "all" else [args.suite]:
        suite = SUITES[name]
        if args.seeds:
            from dataclasses import replace

            suite = replace(suite, seeds=tuple(args.seeds))
        if args.methods:
            from dataclasses import replace

            suite = replace(suite, grids={m: suite.grids[m] for m in args.methods})
        cache = args.cache / f"suite-{name}"
        got = run_suite(
            suite, cache, args.jobs, args.threads, args.quick, args.qualify, args.search_trials, args.adamerging_steps
        )
        if args.qualify:
            results.setdefault("qualification", {})[name] = got
        else:
            results["suites"][name] = got
        got["command"] = " ".join(["python -m bench.quality.suites", *sys.argv[1:]])
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(json.dumps(results, indent=1) + "\n")
        print(f"[{got['timing']['total_seconds']:.0f}s] wrote {name} to {out_file}")


if __name__ == "__main__":
    main()
