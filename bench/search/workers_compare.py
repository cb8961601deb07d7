"""Trials per hour of `modelfusion.search` on the text quality suite: 1 worker vs 2 Ray workers, side by side.

    .venv/bin/python -m bench.search.workers_compare --trials 12 --rounds 2    # -> bench/search/results/workers.json

The search is the suite's seed-0 layer-wise task-arithmetic space (bench.quality.search_rows.tpe_config) with a
seeded random sampler, so both settings run the same trials; its objective is the suite's (mean normalized
validation accuracy over the six tasks, each scored with its fine-tuned head). Rounds alternate the two settings
(1 worker in this process, then 2 Ray actors started by `--ray local`), each in a fresh output folder; the wall time
includes Ray's start-up and each actor receiving the inputs and the objective. Needs the suite's seed-0
fine-tunes in bench/.cache/quality/suite-text (`python -m bench.quality.suites --suite text --qualify --seeds 0`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    import torch

    import modelfusion
    from bench.quality.search_rows import make_objective, tpe_config
    from bench.quality.suites import TEXT, Scorer, acc

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "search" / "results" / "workers.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cache = ROOT / "bench" / ".cache" / "quality" / "suite-text"
    base = TEXT.backend.base(cache)
    p = {t: TEXT.backend.prepare(t, 0, cache, 1) for t in TEXT.tasks}
    scorer = Scorer(TEXT, cache)
    ft_val = {
        t: acc(
            scorer.folder(p[t].folder, {t: (p[t].task, p[t].head)}, "validation", 0, {"finetuned": str(p[t].folder)})[t]
        )
        for t in TEXT.tasks
    }
    objective = make_objective([p[t].task for t in TEXT.tasks], {t: p[t].head for t in TEXT.tasks}, ft_val, base, 32)
    config = tpe_config(base, [p[t].folder for t in TEXT.tasks], 0, args.trials)
    config["search"]["sampler"] = "random"
    seconds: dict[str, list[float]] = {"1 worker": [], "2 Ray workers": []}
    for _ in range(args.rounds):
        for name, options in (("1 worker", {"workers": 1}), ("2 Ray workers", {"workers": 2, "ray": "local"})):
            out = Path(tempfile.mkdtemp(prefix="mf-workers-"))
            t0 = time.perf_counter()
            summary = modelfusion.search(config, out, objective=objective, plots=False, threads=1, **options)
            seconds[name].append(time.perf_counter() - t0)
            assert summary.states.get("COMPLETE") == args.trials, summary.states
            shutil.rmtree(out, ignore_errors=True)
            if "ray" in options:
                import ray

                ray.shutdown()
    result = {
        "command": f"python -m bench.search.workers_compare --trials {args.trials} --rounds {args.rounds}",
        "trials": args.trials,
        "seconds": seconds,
        "median_seconds": {k: round(statistics.median(v), 1) for k, v in seconds.items()},
        "trials_per_hour": {k: round(3600 * args.trials / statistics.median(v)) for k, v in seconds.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
