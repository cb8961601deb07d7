"""Per-entry cost of the streamed merge methods on one 1M-entry block (one thread, inputs in memory).

    .venv/bin/python bench/speed/method_blocks.py [--entries 1048576] [--reps 5]

Two bf16 fine-tunes of a bf16 base (base + 0.002 N(0, 1)), as in the speed benchmark's inputs. Prints
milliseconds per block and nanoseconds per entry and model (medians of --reps runs, methods interleaved): the
method's math without reading or writing.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from modelfusion.engine.row_blocks import RowBlocks
from modelfusion.methods import get_method

CASES = {
    "task_arithmetic": {"weight": [1.0, 1.0]},
    "ties": {"weight": [1.0, 1.0], "density": [0.5, 0.5]},
    "dare_ties": {"weight": [1.0, 1.0], "density": [0.5, 0.5]},
    "della": {"weight": [1.0, 1.0], "density": [0.5, 0.5], "epsilon": [0.1, 0.1]},
    "slerp": {"t": 0.5},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=1 << 20)
    ap.add_argument("--reps", type=int, default=9)
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    base = torch.randn(args.entries // 1024, 1024, generator=g).bfloat16()
    fts = [(base.float() + 0.002 * torch.randn(base.shape, generator=g)).bfloat16() for _ in range(2)]
    runs = {}
    for name, given in CASES.items():
        method = get_method(name)
        models = fts[:1] if name == "slerp" else fts
        params = {
            p.name: given.get(p.name, [p.default] * len(models) if p.per_model else p.default) for p in method.params
        }
        seeds = (lambda i: 1) if method.random else None
        source = RowBlocks.of_tensors(models, base, lambda t: t.float(), args.entries, seed_of=seeds)
        list(method.stream(source, params))  # warm-up
        runs[name] = (method, source, params, len(models), [])
    for _ in range(args.reps):  # methods interleaved, so that a slow spell of a shared machine hits them all
        for method, source, params, _, times in runs.values():
            start = time.perf_counter()
            list(method.stream(source, params))
            times.append(time.perf_counter() - start)
    for name, (_, _, _, models, times) in runs.items():
        seconds = statistics.median(times)
        per_entry = seconds / (args.entries * models) * 1e9
        print(f"{name:16s} {seconds * 1e3:7.1f} ms per block  {per_entry:5.1f} ns per entry and model")


if __name__ == "__main__":
    main()
