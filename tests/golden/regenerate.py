"""Write tests/golden/merge_outputs.json from the current code (run only when outputs are meant to change)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch

import modelfusion
from tests.golden.cases import output_hashes, recipes, write_models, write_recipe

GOLDEN = Path(__file__).with_name("merge_outputs.json")


def compute(root: Path, threads: int) -> dict[str, dict[str, str]]:
    models = write_models(root / "in")
    result = {}
    for name, recipe in recipes(models).items():
        out = root / f"out-{name}-{threads}"
        modelfusion.merge(write_recipe(root, name, recipe), out, threads=threads, random_seed=7)
        result[name] = output_hashes(out)
    return result


if __name__ == "__main__":
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        hashes = compute(Path(tmp), threads=2)
    GOLDEN.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} ({len(hashes)} cases)", file=sys.stderr)
