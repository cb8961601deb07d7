"""Build the shared tiny models, run recipes through mergekit-yaml's sibling mergekit-multi (one process for all
recipes: its start-up costs ~10 s of CPU) and through modelfusion.merge, and load the outputs.

mergekit is used as a black box only: a subprocess on YAML files, offline, on the CPU.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file, save_file

REPO = Path(__file__).resolve().parents[2]
PEER_BIN = Path(os.environ.get("MODELFUSION_MERGEKIT_BIN", REPO / ".peers" / "mergekit" / "bin"))
"""mergekit's venv bin folder (`make peers` installs it there); the variable points elsewhere."""
MERGEKIT_YAML = PEER_BIN / "mergekit-yaml"
MERGEKIT_MULTI = MERGEKIT_YAML.with_name("mergekit-multi")
NOISE = 0.01
"""Fine-tune = base + NOISE * std(tensor) * N(0, 1): task vectors small against the weights, as in practice."""


def build_models(root: Path) -> dict[str, Path]:
    """base (tiny Llama, seed 0) and ft1..ft3 = base + noise (seeds 1..3), saved as HF folders."""
    from tests.tiny_models import save_tiny_model

    base = save_tiny_model("llama", root / "base", seed=0)
    weights = load_file(str(base / "model.safetensors"))
    paths = {"base": base}
    for i in (1, 2, 3):
        g = torch.Generator().manual_seed(1000 + i)
        ft = {}
        for name, t in weights.items():
            scale = NOISE * (float(t.float().std()) if t.numel() > 1 and float(t.float().std()) > 0 else 1.0)
            ft[name] = _without_magnitude_ties(t, scale, g)
        folder = root / f"ft{i}"
        folder.mkdir(parents=True, exist_ok=True)
        save_file(ft, str(folder / "model.safetensors"), metadata={"format": "pt"})
        shutil.copy(base / "config.json", folder / "config.json")
        paths[f"ft{i}"] = folder
    for name in list(paths):
        paths[f"{name}_bf16"] = _half_copy(paths[name], root / f"{name}_bf16", torch.bfloat16)
        paths[f"{name}_f16"] = _half_copy(paths[name], root / f"{name}_f16", torch.float16)
    return paths


def _half_copy(src: Path, dst: Path, dtype: torch.dtype) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.to(dtype) for k, v in load_file(str(src / "model.safetensors")).items()}
    save_file(tensors, str(dst / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    config["torch_dtype"] = config["dtype"] = str(dtype).removeprefix("torch.")
    (dst / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return dst


def _without_magnitude_ties(base: torch.Tensor, scale: float, g: torch.Generator) -> torch.Tensor:
    """base + scale * N(0, 1), redrawn where two |ft - base| (as float32 computes them) are equal: the order
    of equal magnitudes is arbitrary in mergekit for large tensors, so the fixture avoids them."""
    ft = base + scale * torch.randn(base.shape, generator=g)
    for _ in range(20):
        mag = (ft - base).abs().flatten()
        _, inverse, counts = mag.unique(return_inverse=True, return_counts=True)
        tied = counts[inverse] > 1
        if not tied.any():
            break
        ft.view(-1)[tied] = base.reshape(-1)[tied] + scale * torch.randn(int(tied.sum()), generator=g)
    return ft.contiguous()


def with_paths(recipe: dict, models: dict[str, Path]) -> dict:
    """The recipe with model names replaced by absolute folders."""
    text = json.dumps(recipe)
    for name, path in models.items():
        text = text.replace(f'"{name}"', json.dumps(str(path)))
    return json.loads(text)


def run_mergekit(recipes: dict[str, dict], models: dict[str, Path], out: Path, seed: int = 0) -> dict[str, Path]:
    """Every recipe as a named stage of one mergekit-multi run; returns name -> output folder."""
    out.mkdir(parents=True, exist_ok=True)
    # stage names must not occur in any recipe text (mergekit-multi finds dependencies by name): use codes
    # a recipe with its own `name` (an inner stage a later recipe refers to) keeps it
    codes = {name: r.get("name") or f"mfparitystage{i:03d}" for i, (name, r) in enumerate(recipes.items())}
    docs = [{**with_paths(r, models), "name": codes[name]} for name, r in recipes.items()]
    config = out / "all.yaml"
    config.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [str(MERGEKIT_MULTI), str(config), "--intermediate-dir", str(out / "stages"), "--random-seed", str(seed)]
    cmd += ["--no-lazy", "--quiet", "--no-copy-tokenizer", "--no-write-model-card"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"mergekit-multi failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return {name: out / "stages" / code for name, code in codes.items()}


def run_modelfusion(recipe: dict, models: dict[str, Path], out: Path, seed: int = 0) -> Path:
    from modelfusion import merge

    merge(with_paths(recipe, models), out, threads=1, overwrite=True, random_seed=seed)
    return out


def load_folder(folder: Path) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for f in sorted(folder.glob("*.safetensors")):
        tensors.update(load_file(str(f)))
    return tensors
