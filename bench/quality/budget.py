"""One text task of the harder suite at a chosen fine-tuning budget: frozen-base probe vs LP-FT fine-tune.

    .venv/bin/python -m bench.quality.budget TASK TRAIN_PER_CLASS EPOCHS LR [BATCH]   # env: T threads, S seed

Splits as the suite's (25% test capped at TEST_CAP per class, default 30; 10% validation capped at VAL_CAP, default
8; both from the environment), train capped at
TRAIN_PER_CLASS; the probe is trained on the same training examples as the fine-tune. Uses the suite's cache
(bench/.cache/quality/suite-text), so a budget adopted later by `bench.quality.suites` reuses these fine-tunes.
Prints one JSON line (test and validation accuracies, gain in points, seconds) and appends it to
bench/out/exp.jsonl.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch

from bench.quality.backends import TextBackend
from bench.quality.finetune import FinetuneConfig
from modelfusion.evaluate import SplitSizes


def main() -> None:
    task, cap, epochs, lr = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    bs = int(sys.argv[5]) if len(sys.argv) > 5 else 32
    threads, seed = int(os.environ.get("T", "2")), int(os.environ.get("S", "0"))
    torch.set_num_threads(threads)
    sizes = SplitSizes(
        test_fraction=0.25,
        validation_fraction=0.1,
        max_train_per_class=cap,
        max_validation_per_class=int(os.environ.get("VAL_CAP", "8")),
        max_test_per_class=int(os.environ.get("TEST_CAP", "30")),
    )
    b = TextBackend(sizes=sizes, finetune=FinetuneConfig(epochs=epochs, batch_size=bs, learning_rate=lr), max_length=32)
    cache = Path("bench/.cache/quality/suite-text")
    t0 = time.time()
    p = b.prepare(task, seed, cache, threads)
    t1 = time.time()
    base = b.base(cache)
    ft = b.correct(p.folder, {task: (p.task, p.head)}, "test")[task]
    pr = b.correct(base, {task: (p.task, p.probe)}, "test")[task]
    ftv = b.correct(p.folder, {task: (p.task, p.head)}, "validation")[task]
    prv = b.correct(base, {task: (p.task, p.probe)}, "validation")[task]

    def a(x: list[int]) -> float:
        return sum(x) / len(x)

    r = dict(
        task=task,
        seed=seed,
        cap=cap,
        epochs=epochs,
        lr=lr,
        bs=bs,
        n_train=len(p.task.splits.train),
        n_test=len(ft),
        probe=round(a(pr), 4),
        ft=round(a(ft), 4),
        gain=round(100 * (a(ft) - a(pr)), 1),
        val_probe=round(a(prv), 4),
        val_ft=round(a(ftv), 4),
        train_s=round(t1 - t0),
        eval_s=round(time.time() - t1),
    )
    print(json.dumps(r))
    Path("bench/out").mkdir(parents=True, exist_ok=True)
    with open("bench/out/exp.jsonl", "a") as f:
        f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
