"""Soups vs ensembles (issue 15, item 4): five fine-tunes of one task, combined in weight space and in output space.

    .venv/bin/python -m bench.quality.soups --suite text --task bigram_shift    # -> docs/quality-soups.json
    .venv/bin/python -m bench.quality.soups --suite vision --task fashion

Ingredients: five fine-tunes of the same task on the same splits (split seed 0), from the suite's budget for that
task with fine-tuning seeds 0..4 and learning rates x (1, 1, 1, 0.5, 2). Every fine-tune starts from the same
pretrained model and (LP-FT) from nearly the same probe head, as model soups require. Rows:

- each ingredient, and the **best single model** (highest validation accuracy);
- **uniform soup**: `linear` merge of the five through `modelfusion merge`, head = the mean of the five heads;
- **greedy soup** (Wortsman et al. 2022): ingredients sorted by validation accuracy, best first; each is added
  only if the soup's validation accuracy rises (strictly); merged and scored like the uniform soup;
- **ensemble**: soft voting (mean of the members' probabilities) of the five through
  `modelfusion.ensemble.VotingEnsemble`, each member a `CallableClassifier` that runs its own model;
- **model_stock** of the two best ingredients (by validation) with the pretrained base, through `modelfusion merge`;
  head = the mean of their two heads.

Test accuracy with a 95% bootstrap interval over test examples (1000 replicates), and inference cost: forward
seconds per test example (weights already loaded, 1 thread, `predict_proba` over the whole test split) and the
parameters that run per example.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from bench.quality.recipes import write_recipe
from bench.quality.suites import ROOT, SUITES
from modelfusion.evaluate import ClassificationHead

LR_FACTORS = (1.0, 1.0, 1.0, 0.5, 2.0)
SPLITS = {"validation": 0, "test": 1}


def ingredient_configs(backend, task: str) -> list:
    base = backend.budget(task).finetune if hasattr(backend, "budget") else backend.config
    return [replace(base, seed=i, learning_rate=base.learning_rate * f) for i, f in enumerate(LR_FACTORS)]


def mean_head(heads: list[ClassificationHead]) -> ClassificationHead:
    """The head whose W and b are the means of the given heads' (same labels)."""
    out = ClassificationHead(heads[0].linear.in_features, heads[0].labels)
    with torch.no_grad():
        out.linear.weight.copy_(torch.stack([h.linear.weight for h in heads]).mean(0))
        out.linear.bias.copy_(torch.stack([h.linear.bias for h in heads]).mean(0))
    return out.eval()


def merge(recipe: dict, work: Path, name: str) -> Path:
    """Run `modelfusion merge` on `recipe`; returns the output folder."""
    recipe_file = write_recipe(recipe, work / "recipes" / f"{name}.yaml")
    out = work / "merged" / name
    exe = Path(sys.executable).with_name("modelfusion")
    cmd = [str(exe), "merge", str(recipe_file), str(out), "--quiet", "--overwrite", "-j", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"modelfusion merge {recipe_file} failed:\n{done.stdout}\n{done.stderr}")
    return out


def accuracy(logits: torch.Tensor, targets: list[int]) -> float:
    return float((logits.argmax(-1) == torch.tensor(targets)).float().mean())


def interval(bits: np.ndarray, reps: int = 1000, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    boot = bits[rng.integers(0, len(bits), size=(reps, len(bits)))].mean(1)
    return [round(float(x), 4) for x in np.percentile(boot, [2.5, 97.5])]


def targets_of(task, split: str) -> list[int]:
    return task.targets(split) if hasattr(task, "texts") else task.part(split)[1]


def count_parameters(loaded) -> int:
    """Parameters of a loaded model (an evaluate.Encoder's `.model`, or the module itself)."""
    module = getattr(loaded, "model", loaded)
    return sum(p.numel() for p in module.parameters())


def run(suite_name: str, task_name: str, cache: Path) -> dict:
    suite = SUITES[suite_name]
    backend = suite.backend
    task = backend.task(task_name, 0)
    base = backend.base(cache)
    work = cache / "soups" / task_name
    t0 = time.perf_counter()
    ingredients = [backend.ingredient(task_name, 0, c, cache) for c in ingredient_configs(backend, task_name)]
    t_finetune = time.perf_counter() - t0
    y = {s: targets_of(task, s) for s in SPLITS}

    def score(folder: Path, head: ClassificationHead, splits=("validation", "test")) -> dict[str, float]:
        model = backend.load(folder)
        return {s: accuracy(backend.logits(model, task, head, s), y[s]) for s in splits}

    rows: dict[str, dict] = {}
    val = []
    for i, (folder, head) in enumerate(ingredients):
        got = score(folder, head)
        val.append(got["validation"])
        rows[f"ingredient {i}"] = got
    order = sorted(range(len(ingredients)), key=lambda i: -val[i])
    rows["best single model"] = dict(rows[f"ingredient {order[0]}"], members=[order[0]])

    def soup(members: list[int], name: str) -> tuple[Path, ClassificationHead]:
        recipe = {
            "merge_method": "linear",
            "dtype": "float32",
            "models": [{"model": str(ingredients[i][0])} for i in members],
        }
        return merge(recipe, work, name), mean_head([ingredients[i][1] for i in members])

    rows["uniform soup"] = dict(score(*soup(list(range(5)), "uniform")), members=list(range(5)))
    greedy = [order[0]]
    best_val = val[order[0]]
    for i in order[1:]:
        trial = score(*soup([*greedy, i], f"greedy-{len(greedy)}"), splits=("validation",))["validation"]
        if trial > best_val:
            greedy.append(i)
            best_val = trial
    rows["greedy soup"] = dict(score(*soup(greedy, "greedy")), members=sorted(greedy))
    two = order[:2]
    stock = {
        "merge_method": "model_stock",
        "dtype": "float32",
        "base_model": str(base),
        "models": [{"model": str(ingredients[i][0])} for i in two],
    }
    stock_folder = merge(stock, work, "model_stock")
    rows["model_stock (2 best)"] = dict(score(stock_folder, mean_head([ingredients[i][1] for i in two])), members=two)

    ensemble_rows = ensemble(backend, task, ingredients, y)
    rows["ensemble (soft voting, 5)"] = ensemble_rows["accuracy"]

    # Per-example test correctness for intervals, and forward cost with weights loaded.
    cost = {}
    single_model = backend.load(ingredients[order[0]][0])
    params = count_parameters(single_model) + sum(p.numel() for p in ingredients[0][1].parameters())
    for name in rows:
        n_models = 5 if name.startswith("ensemble") else 1
        cost[name] = {"parameters_per_example": params * n_models}
    idx = list(range(len(y["test"])))
    t = time.perf_counter()
    logits = backend.logits(single_model, task, ingredients[order[0]][1], "test", idx)
    single_seconds = (time.perf_counter() - t) / len(idx)
    for name in rows:
        if not name.startswith("ensemble"):
            cost[name]["forward_seconds_per_example"] = round(single_seconds, 6)
    cost["ensemble (soft voting, 5)"]["forward_seconds_per_example"] = round(ensemble_rows["seconds_per_example"], 6)
    del logits
    result = {
        "suite": suite_name,
        "task": task_name,
        "n_validation": len(y["validation"]),
        "n_test": len(y["test"]),
        "ingredient_configs": [
            {"seed": c.seed, "learning_rate": c.learning_rate} for c in ingredient_configs(backend, task_name)
        ],
        "rows": rows,
        "test_interval_95": {},
        "cost": cost,
        "seconds": {"finetune_this_run": round(t_finetune, 1), "total": round(time.perf_counter() - t0, 1)},
        "command": f"python -m bench.quality.soups --suite {suite_name} --task {task_name}",
    }
    n = len(y["test"])
    for name, row in rows.items():
        acc = row["test"]
        k = round(acc * n)
        result["test_interval_95"][name] = interval(np.r_[np.ones(k), np.zeros(n - k)])
    return result


def ensemble(backend, task, ingredients, y) -> dict:
    """Soft voting of the ingredients through modelfusion.ensemble; inputs are (split, index) rows."""
    from modelfusion.ensemble import CallableClassifier, VotingEnsemble

    names = list(SPLITS)
    classes = np.arange(len(task.labels))

    def member(folder: Path, head: ClassificationHead):
        model = backend.load(folder)

        def proba(X: np.ndarray) -> np.ndarray:
            out = np.zeros((len(X), len(classes)))
            for code, split in enumerate(names):
                rows = np.flatnonzero(X[:, 0] == code)
                if len(rows):
                    idx = X[rows, 1].astype(int).tolist()
                    out[rows] = torch.softmax(backend.logits(model, task, head, split, idx), -1).numpy()
            return out

        return CallableClassifier(proba, classes, output="proba")

    members = [(f"m{i}", member(f, h)) for i, (f, h) in enumerate(ingredients)]
    ens = VotingEnsemble(members, voting="soft")
    X = {s: np.array([[code, i] for i in range(len(y[s]))]) for s, code in SPLITS.items()}
    ens.fit(X["validation"], np.asarray(y["validation"]))
    acc = {}
    seconds = 0.0
    for s in SPLITS:
        t = time.perf_counter()
        pred = ens.predict(X[s])
        if s == "test":
            seconds = (time.perf_counter() - t) / len(y[s])
        acc[s] = float((pred == np.asarray(y[s])).mean())
    return {"accuracy": acc, "seconds_per_example": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=list(SUITES), required=True)
    parser.add_argument("--task", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / ".cache" / "quality")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "quality-soups.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    got = run(args.suite, args.task, args.cache / f"suite-{args.suite}")
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results[f"{args.suite}/{args.task}"] = got
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    for name, row in got["rows"].items():
        print(f"{name:28s} val {row['validation']:.3f} test {row['test']:.3f} {got['cost'].get(name, {})}")


if __name__ == "__main__":
    main()
