"""Federated benchmark: strategies x Dirichlet alpha x seeds, with and without one malicious client.

Each run is `modelfusion federated simulate` in its own process (one Flower simulation per process); results
(per-round accuracy, bytes) are gathered into bench/federated/results.json, a table and a plot.

    .venv/bin/python -m bench.federated.run --task tiny --clients 8 --rounds 10 --seeds 0 1 2
    .venv/bin/python -m bench.federated.run --dry-run      # print the commands only

Needs a quiet machine (8 Ray client actors). Only the built-in `tiny` task exists so far; the issue's MiniLM /
EfficientNet-Lite0 tasks are not built, so this is not yet the real-data benchmark.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).parent
STRATEGIES = {
    "fedavg": {"name": "fedavg"},
    "fedmedian": {"name": "fedmedian"},
    "fedtrimmedavg": {"name": "fedtrimmedavg", "options": {"beta": 0.2}},
    "merge-ties": {"name": "merge", "method": "ties", "method_params": {"density": 0.5}},
    "merge-dare_ties": {"name": "merge", "method": "dare_ties", "method_params": {"density": 0.5}},
    "merge-task_arithmetic": {"name": "merge", "method": "task_arithmetic"},
}


def configs(args: argparse.Namespace):
    for malicious in (False, True):
        for alpha in args.alphas:
            for name, strategy in STRATEGIES.items():
                for seed in args.seeds:
                    cfg = {
                        "task": args.task,
                        "clients": args.clients,
                        "rounds": args.rounds,
                        "seed": seed,
                        "partition": {"kind": "dirichlet", "alpha": alpha},
                        "strategy": strategy,
                        "malicious": {"clients": [0] if malicious else [], "scale": -10.0},
                        "ray": {"num_cpus_per_client": 1},
                    }
                    yield {"strategy": name, "alpha": alpha, "seed": seed, "malicious": malicious}, cfg


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--task", default="tiny")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--alphas", type=float, nargs="+", default=[0.3, 1.0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--dry-run", action="store_true")
    args = p.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (key, cfg) in enumerate(configs(args)):
            path = Path(tmp) / f"run{i}.yaml"
            path.write_text(yaml.safe_dump(cfg))
            out = Path(tmp) / f"out{i}"
            cmd = [sys.executable, "-m", "modelfusion.cli.main", "federated", "simulate", str(path), "--out", str(out)]
            if args.dry_run:
                print(key, " ".join(cmd))
                continue
            subprocess.run(cmd, check=True)
            history = json.loads((out / "history.json").read_text())
            accuracy = [history["initial_accuracy"]] + [r["accuracy"] for r in history["rounds"]]
            traffic = [r["bytes_sent"] + r["bytes_received"] for r in history["rounds"]]
            results.append({**key, "accuracy": accuracy, "bytes": traffic})
            print(key, f"final accuracy {history['final_accuracy']:.4f}", flush=True)
    if not args.dry_run:
        (HERE / "results.json").write_text(json.dumps({"args": vars(args), "runs": results}, indent=2) + "\n")
        from bench.federated.report import report

        report(HERE / "results.json")


if __name__ == "__main__":
    main()
