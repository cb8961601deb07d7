"""The copy floor: read every input tensor once and write one output of the same size with safetensors, no math.

Usage: copy_floor.py OUT_FILE MODEL_DIR [MODEL_DIR ...]
Each tensor of each model is read (safetensors `get_tensor`, which copies the bytes into memory); the first
model's tensors become the output, written with `safetensors.torch.save_file`. This is the time any merge tool
needs at least to move the bytes through Python on this machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import save_file


def copy_floor(out_file: Path, models: list[Path]) -> int:
    handles = [safe_open(str(m / "model.safetensors"), framework="pt") for m in models]
    out = {}
    for name in handles[0].keys():  # noqa: SIM118 (safe_open is not a dict)
        tensors = [h.get_tensor(name) for h in handles]
        out[name] = tensors[0]
    save_file(out, str(out_file), metadata={"format": "pt"})
    return len(out)


if __name__ == "__main__":
    copy_floor(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]])
