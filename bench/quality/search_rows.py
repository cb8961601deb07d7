"""Issue 17's rows of the text suite: `modelfusion.search` (TPE, layer-wise lambdas) and greedy soup, per seed.

Both optimise the suite's own selection criterion on the validation splits: the mean over tasks of merged /
fine-tuned validation accuracy, each task scored with its fine-tuned head. The objective is a plain Python
function of (state_dict, split), as a user writes it (`objective`). Each search's `best.yaml` is then merged again
through `modelfusion merge` and scored once on test by the suite's Scorer, like every other row.

- `search_tpe`: task_arithmetic over the base; each fine-tune's `weight` is a gradient of 3 points (early, middle,
  late layers), each point uniform in [0, 1]: 18 ranges for 6 tasks; `lambda` 1; TPE (seeded), SEARCH_TRIALS.
- `greedy_soup`: the uniform `linear` soup grown greedily (Wortsman et al. 2022) with `sampler: greedy_soup`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
import yaml

SEARCH_TRIALS = 60


def make_objective(
    tasks: list[Any], heads: dict[str, Any], finetuned_validation: dict[str, float], base: Path, max_length: int
):
    """objective(state_dict, split) -> {"mean_normalized", "acc_<task>"...} for the encoder run by `base`'s config."""
    from modelfusion.evaluate import load_encoder, predict

    encoder = load_encoder(base, max_length)

    def objective(state_dict: dict[str, torch.Tensor], split: str) -> dict[str, float]:
        missing, _ = encoder.model.load_state_dict(state_dict, strict=False)
        if missing:
            raise RuntimeError(f"merged state dict lacks {missing[:3]}")
        out = {}
        for task in tasks:
            pred = predict(encoder, heads[task.name], task.texts(split))
            out[f"acc_{task.name}"] = sum(int(p == t) for p, t in zip(pred, task.targets(split))) / len(pred)
        out["mean_normalized"] = sum(out[f"acc_{t.name}"] / finetuned_validation[t.name] for t in tasks) / len(tasks)
        return out

    return objective


def _range() -> dict:
    return {"search": "uniform", "low": 0.0, "high": 1.0}


def tpe_config(base: Path, models: list[Path], seed: int, trials: int) -> dict:
    return {
        "merge_method": "task_arithmetic",
        "base_model": str(base),
        "dtype": "float32",
        "models": [{"model": str(m), "parameters": {"weight": [_range(), _range(), _range()]}} for m in models],
        "parameters": {"lambda": 1.0},
        "search": {"trials": trials, "sampler": "tpe", "seed": seed, "metric": "mean_normalized"},
    }


def greedy_config(models: list[Path], seed: int) -> dict:
    return {
        "merge_method": "linear",
        "dtype": "float32",
        "models": [{"model": str(m)} for m in models],
        "search": {"sampler": "greedy_soup", "seed": seed, "metric": "mean_normalized"},
    }


def run_search(config: dict, out: Path, objective, workers: int = 1) -> dict:
    """One search (resumed if `out` holds it); returns its best recipe (a plain dict) and facts about the run."""
    import modelfusion

    t0 = time.perf_counter()
    summary = modelfusion.search(config, out, objective=objective, plots=False, workers=workers, threads=1)
    seconds = time.perf_counter() - t0
    best = yaml.safe_load(Path(summary.best_recipe).read_text())
    trials = sum(summary.states.values())
    return {
        "recipe": best,
        "validation": summary.best_value,
        "test_value": summary.test_value,
        "gap": summary.gap,
        "states": summary.states,
        "seconds_this_run": round(seconds, 1),
        "trials": trials,
        "input_in_memory": summary.input_in_memory,
    }


def search_rows(suite, seed: int, p: dict, scorer, base: Path, ft_val: dict[str, float], trials: int) -> dict:
    """{row: {"test": per-example bits, "search": facts}} for search_tpe and greedy_soup at one seed."""
    tasks = [p[t].task for t in suite.tasks]
    heads = {t: p[t].head for t in suite.tasks}
    objective = make_objective(tasks, heads, ft_val, base, suite.backend.max_length)
    models = [p[t].folder for t in suite.tasks]
    rows = {}
    for row, config in (
        ("search_tpe", tpe_config(base, models, seed, trials)),
        ("greedy_soup", greedy_config(models, seed)),
    ):
        out = scorer.cache / "search" / f"{row}-s{seed}"
        facts = run_search(config, out, objective)
        data = {k: v for k, v in facts.pop("recipe").items() if k != "search"}
        test = scorer.merged(data, f"{row}-s{seed}", {t: (p[t].task, p[t].head) for t in suite.tasks}, "test", seed)
        rows[row] = {"test": test, "param": None, "chosen": None, "grid": [], "search": facts}
        print(
            f"  seed {seed} {row}: validation {facts['validation']:.4f} test {facts['test_value']:.4f} "
            f"({facts['trials']} trials, {facts['seconds_this_run']:.0f} s) {json.dumps(facts['states'])}"
        )
    return rows
