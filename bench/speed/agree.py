"""Do two merged folders agree? Tensor by tensor, streamed (never two whole models in memory)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open

BF16_STEP = 2.0**-8
"""One bfloat16 rounding step, relative: |a - b| <= 2^-8 max(|a|, |b|) is the tolerance for 'agrees'."""


def _tensor_files(folder: Path) -> dict[str, Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        return {name: folder / file for name, file in weight_map.items()}
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        with safe_open(str(f), framework="pt") as h:
            out.update({name: f for name in h.keys()})  # noqa: SIM118
    return out


def compare(a: Path, b: Path, base: Path | None = None) -> dict:
    """max |a - b|, the fraction of entries beyond one bf16 step, and with `base`: sum |a - base| / sum |b - base|."""
    fa, fb = _tensor_files(a), _tensor_files(b)
    fbase = _tensor_files(base) if base else {}
    if set(fa) != set(fb):
        return {"same_names": False, "only_a": sorted(set(fa) - set(fb))[:5], "only_b": sorted(set(fb) - set(fa))[:5]}
    max_abs, beyond, total, shift_a, shift_b = 0.0, 0, 0, 0.0, 0.0
    for name in sorted(fa):
        with safe_open(str(fa[name]), framework="pt") as ha, safe_open(str(fb[name]), framework="pt") as hb:
            x, y = ha.get_tensor(name).float(), hb.get_tensor(name).float()
        if x.shape != y.shape:
            return {"same_names": True, "shape_mismatch": name}
        d = (x - y).abs()
        max_abs = max(max_abs, float(d.max()) if d.numel() else 0.0)
        beyond += int((d > BF16_STEP * torch.maximum(x.abs(), y.abs())).sum())
        total += d.numel()
        if fbase:
            with safe_open(str(fbase[name]), framework="pt") as hc:
                z = hc.get_tensor(name).float()
            shift_a += float((x - z).abs().sum())
            shift_b += float((y - z).abs().sum())
    result = {"same_names": True, "tensors": len(fa), "max_abs_diff": max_abs, "frac_beyond_bf16_step": beyond / total}
    if fbase and shift_b:
        result["mean_shift_ratio"] = shift_a / shift_b
    return result
