"""Merge cases whose outputs were hashed before the second-wave refactor (tests/golden/merge_outputs.json).

Inputs are built from a seeded torch.Generator (no transformers init), so the hashes depend only on
modelfusion's arithmetic. Shapes cover the streamed path (a tensor above one row block of 256K entries), small
whole tensors, vectors, bf16 and float32 storage, and an int64 buffer that must be copied.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file, save_file

SHAPES = {
    "model.embed_tokens.weight": ((96, 48), torch.bfloat16),
    "model.layers.0.mlp.up_proj.weight": ((640, 512), torch.float32),  # 327,680 entries: two row blocks
    "model.layers.0.self_attn.q_proj.weight": ((48, 48), torch.bfloat16),
    "model.layers.1.self_attn.q_proj.weight": ((48, 48), torch.float32),
    "model.layers.1.input_layernorm.weight": ((48,), torch.float32),
    "model.position_ids": ((1, 64), torch.int64),
}


def write_models(root: Path, count: int = 4) -> list[Path]:
    """A base (index 0) and `count - 1` fine-tunes: base + seeded noise of different scales."""
    g = torch.Generator().manual_seed(1234)
    base = {n: torch.randn(s, generator=g) for n, (s, _) in SHAPES.items()}
    folders = []
    for i in range(count):
        tensors = {}
        for name, (shape, dtype) in SHAPES.items():
            if dtype == torch.int64:
                tensors[name] = torch.arange(shape[-1], dtype=torch.int64).reshape(shape)
                continue
            t = base[name] if i == 0 else base[name] + 0.1 * i * torch.randn(shape, generator=g)
            tensors[name] = t.to(dtype).contiguous()
        folder = root / f"m{i}"
        folder.mkdir(parents=True)
        save_file(tensors, str(folder / "model.safetensors"))
        folders.append(folder)
    return folders


def _models(paths: list[Path], **per_model: list) -> list[dict]:
    out = []
    for i, p in enumerate(paths):
        params = {k: v[i] for k, v in per_model.items()}
        out.append({"model": str(p), **({"parameters": params} if params else {})})
    return out


def recipes(m: list[Path]) -> dict[str, dict]:
    """Case name -> recipe over the models `m` (m[0] is the base)."""
    base, fts = m[0], m[1:]
    w3 = [0.5, 0.3, 0.2]
    tv = {"base_model": str(base), "dtype": "float32"}
    return {
        "linear": {"merge_method": "linear", "models": _models(m, weight=[1, 2, 3, 4])},
        "linear_bf16": {"merge_method": "linear", "models": _models(fts, weight=w3), "dtype": "bfloat16"},
        "slerp": {
            "merge_method": "slerp",
            "base_model": str(base),
            "models": _models([base, fts[0]]),
            "parameters": {"t": [0.0, 0.3, 1.0]},
        },
        "nuslerp": {"merge_method": "nuslerp", "models": _models(fts[:2], weight=[0.3, 0.7])},
        "multislerp": {"merge_method": "multislerp", "models": _models(fts, weight=w3)},
        "karcher": {"merge_method": "karcher", "models": _models(fts)},
        "task_arithmetic": {
            "merge_method": "task_arithmetic",
            **tv,
            "models": _models(fts, weight=w3),
            "parameters": {"lambda": 0.8},
        },
        "ties": {"merge_method": "ties", **tv, "models": _models(fts, weight=w3, density=[0.5, 0.3, 0.7])},
        "dare_linear": {"merge_method": "dare_linear", **tv, "models": _models(fts, weight=w3, density=[0.5] * 3)},
        "dare_ties": {"merge_method": "dare_ties", **tv, "models": _models(fts, weight=w3, density=[0.4] * 3)},
        "breadcrumbs": {"merge_method": "breadcrumbs", **tv, "models": _models(fts, weight=w3, density=[0.6] * 3)},
        "breadcrumbs_ties": {
            "merge_method": "breadcrumbs_ties",
            **tv,
            "models": _models(fts, weight=w3, density=[0.6] * 3, gamma=[0.05] * 3),
        },
        "della": {"merge_method": "della", **tv, "models": _models(fts, weight=w3, density=[0.5] * 3)},
        "della_linear": {
            "merge_method": "della_linear",
            **tv,
            "models": _models(fts, weight=w3, density=[0.5] * 3, epsilon=[0.1] * 3),
        },
        "sce": {"merge_method": "sce", **tv, "models": _models(fts), "parameters": {"select_topk": 0.5}},
        "model_stock": {"merge_method": "model_stock", **tv, "models": _models(fts)},
        "nearswap": {
            "merge_method": "nearswap",
            "base_model": str(base),
            "models": _models([base, fts[0]]),
            "parameters": {"t": 0.01},
        },
        "arcee_fusion": {"merge_method": "arcee_fusion", "base_model": str(base), "models": _models([base, fts[1]])},
        "passthrough": {"merge_method": "passthrough", "models": _models([fts[2]])},
    }


def output_hashes(folder: Path) -> dict[str, str]:
    """sha256 of each output tensor's dtype, shape and bytes."""
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        for name, t in load_file(str(f)).items():
            h = hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.contiguous().view(torch.uint8).numpy().tobytes() if t.numel() else b"")
            out[name] = h.hexdigest()[:24]
    return dict(sorted(out.items()))


def write_recipe(folder: Path, name: str, recipe: dict) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path
