"""Federated benchmark: strategies x Dirichlet alpha x seeds, with and without one malicious client (update x -10).

Each run is `modelfusion federated simulate` in its own process (one Flower simulation per process); per-round
global accuracy and bytes are appended to RESULTS/runs.jsonl as each run ends (a rerun with the same results
folder skips the runs already there) and gathered into RESULTS/results.json, a table (results.md) and a plot
(accuracy.png).

    # the issue's sweep: 8 clients, alpha 0.3 and 1.0, 10 rounds, 3 seeds, 6 strategies, +/- 1 malicious of 8
    .venv/bin/python -m bench.federated.run --task text     # all-MiniLM-L6-v2 + head on WordNet glosses (8 classes)
    .venv/bin/python -m bench.federated.run --task image    # EfficientNet-Lite0 + head on Fashion-MNIST, 32 px
    .venv/bin/python -m bench.federated.run --task text --quick   # smoke: 4 clients, 2 rounds, 1 seed, 2 strategies
    .venv/bin/python -m bench.federated.run --dry-run       # print the configs only

Local training per round: at most `--steps` AdamW steps of `--batch` examples (cheap rounds; n_i is the client's
partition size). Needs a quiet machine: each run starts Ray with min(clients, CPUs) CPUs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).parent
STRATEGIES = {
    "fedavg": {"name": "fedavg"},
    "fedmedian": {"name": "fedmedian"},
    "fedtrimmedavg": {"name": "fedtrimmedavg", "options": {"beta": 0.2}},
    "merge-ties": {"name": "merge", "method": "ties", "method_params": {"density": 0.5}},
    "merge-dare_ties": {"name": "merge", "method": "dare_ties", "method_params": {"density": 0.5}},
    "merge-task_arithmetic": {"name": "merge", "method": "task_arithmetic", "method_params": {"lambda": 1.5}},
}
"""task_arithmetic with weights n_i / Σ n and lambda 1 would be FedAvg exactly; lambda 1.5 is a server step > 1."""
SWEEP = list(STRATEGIES)
"""The issue's six; the extra arms below run only when named (--strategies)."""
STRATEGIES["merge-linear-clip5"] = {"name": "merge", "method": "linear", "clip_norm": 5.0}
"""FedAvg with each update's L2 norm clipped to 5 (honest image-task updates measured 4.0-5.3)."""

TASKS = {
    # task: (model section, AdamW learning rate)
    "text": ({"train": "all", "max_length": 48}, 5e-5),
    "image": ({"train": "all", "image_size": 32}, 1e-3),
    "tiny": ({}, 0.05),
}


def task_section(args: argparse.Namespace, work: Path) -> dict:
    """The task's config keys: data file (written once into `work`), caps, model settings."""
    if args.task == "tiny":
        return {"task": "tiny", "local": {"epochs": 1, "lr": 0.05, "batch_size": 32}}
    from bench.federated import data

    path = data.write_text(work) if args.task == "text" else data.write_images(work)
    model, lr = TASKS[args.task]
    return {
        "task": args.task,
        "data": {"path": str(path), "max_per_class": args.per_class, "max_test": args.test},
        "model": model,
        "local": {"epochs": 1, "max_steps": args.steps, "batch_size": args.batch, "lr": lr, "optimizer": "adamw"},
    }


def configs(args: argparse.Namespace, task: dict):
    """Seed outermost, so an interrupted sweep has every cell at the seeds it finished."""
    for seed in args.seeds:
        for malicious in args.malicious:
            for alpha in args.alphas:
                for name in args.strategies:
                    cfg = {
                        **task,
                        "clients": args.clients,
                        "rounds": args.rounds,
                        "seed": seed,
                        "partition": {"kind": "dirichlet", "alpha": alpha},
                        "strategy": STRATEGIES[name],
                        "malicious": {"clients": [0] if malicious else [], "scale": -10.0},
                        "ray": {"num_cpus_per_client": 1},
                    }
                    yield {"strategy": name, "alpha": alpha, "seed": seed, "malicious": malicious}, cfg


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", choices=sorted(TASKS), default="text")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--alphas", type=float, nargs="+", default=[0.3, 1.0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--strategies", nargs="+", choices=sorted(STRATEGIES), default=SWEEP)
    p.add_argument(
        "--malicious", nargs="+", choices=["no", "yes"], default=["no", "yes"], help="runs without / with 1 bad client"
    )
    p.add_argument("--per-class", type=int, default=300, help="training examples per class (cap)")
    p.add_argument("--test", type=int, default=800, help="held-out examples scored each round (cap)")
    p.add_argument("--steps", type=int, default=10, help="local optimiser steps per round (cap)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "modelfusion-federated-bench")
    p.add_argument("--results", type=Path, default=None, help="folder for results.json/.md/.png")
    p.add_argument("--quick", action="store_true", help="smoke setting: 4 clients, 2 rounds, 1 seed, tiny slices")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument(
        "--collect", action="store_true", help="run nothing: gather the selected runs found in RESULTS/runs.jsonl"
    )
    args = p.parse_args()
    args.malicious = [m == "yes" for m in args.malicious]
    if args.quick:
        args.clients, args.rounds, args.alphas, args.seeds = 4, 2, [0.3], [0]
        args.strategies, args.per_class, args.test, args.steps = ["fedavg", "merge-ties"], 20, 80, 2
    if args.results is None:
        args.results = args.work / "quick" if args.quick else HERE / "results" / args.task
    return args


def main() -> None:
    args = parse()
    args.work.mkdir(parents=True, exist_ok=True)
    task = task_section(args, args.work)
    args.results.mkdir(parents=True, exist_ok=True)
    log = args.results / "runs.jsonl"
    done = {_key(r): r for r in map(json.loads, log.read_text().splitlines())} if log.is_file() else {}
    runs = []
    for i, (key, cfg) in enumerate(configs(args, task)):
        if args.dry_run:
            print(key, json.dumps(cfg))
            continue
        if _key(key) in done:  # finished by an earlier, interrupted sweep (same results folder)
            runs.append(done[_key(key)])
            continue
        if args.collect:
            continue
        runs.append(run_one(args, i, key, cfg))
        with log.open("a") as f:
            f.write(json.dumps(runs[-1]) + "\n")
    if args.dry_run:
        return
    meta = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    meta["command"] = " ".join([Path(sys.executable).name, "-m", "bench.federated.run", *sys.argv[1:]])
    (args.results / "results.json").write_text(json.dumps({"args": meta, "runs": runs}, indent=2) + "\n")
    from bench.federated.report import report

    report(args.results / "results.json")


def _key(run: dict) -> tuple:
    return run["strategy"], run["alpha"], run["seed"], run["malicious"]


def run_one(args: argparse.Namespace, i: int, key: dict, cfg: dict) -> dict:
    """One `modelfusion federated simulate` process; its per-round accuracy and traffic."""
    path = args.work / f"run{i}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = args.work / f"out{i}"
    cmd = [sys.executable, "-m", "modelfusion.cli.main", "federated", "simulate", str(path), "--out", str(out)]
    start = time.perf_counter()
    subprocess.run([*cmd, "--overwrite"], check=True)
    history = json.loads((out / "history.json").read_text())
    accuracy = [history["initial_accuracy"]] + [r["accuracy"] for r in history["rounds"]]
    traffic = [r["bytes_sent"] + r["bytes_received"] for r in history["rounds"]]
    seconds = time.perf_counter() - start
    print(key, f"final accuracy {history['final_accuracy']:.4f} ({seconds:.0f} s)", flush=True)
    return {**key, "accuracy": accuracy, "bytes": traffic, "seconds": seconds}


if __name__ == "__main__":
    main()
