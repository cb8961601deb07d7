"""Run by mergekit's own Python (the peer venv), never imported by the tests: merge one set of tensors with each
random method over many seeds through mergekit's public in-memory API (`merge_tensors`, documented in its
README), so the seed statistics cost one process start instead of one per seed.

usage: python mergekit_seeds_driver.py inputs.pt outputs.pt
inputs.pt: {"base": T, "models": [T, ...], "recipes": {name: (method, params)}, "seeds": [int, ...]}
"""

import sys

import torch
from mergekit.merge_methods import merge_tensors


def main(src: str, dst: str) -> None:
    spec = torch.load(src)
    tensors = [*spec["models"], spec["base"]]
    out = {}
    for name, (method, params) in spec["recipes"].items():
        runs = []
        for seed in spec["seeds"]:
            torch.manual_seed(seed)
            runs.append(merge_tensors(tensors, method, parameters=params, base_index=len(tensors) - 1))
        out[name] = torch.stack(runs)
    torch.save(out, dst)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
