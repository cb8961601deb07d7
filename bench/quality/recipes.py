"""Merge recipes (mergekit YAML) for each benchmark candidate, written to files for `modelfusion merge`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from bench.quality.settings import FIXED, Candidate
from modelfusion.checkpoint import open_checkpoint


def task_vector_norms(base: Path, models: Sequence[Path]) -> list[float]:
    """||theta_i - theta_base||_2 over every floating-point tensor, for each fine-tuned encoder folder."""
    norms = []
    with_base = open_checkpoint(base)
    try:
        for folder in models:
            ckpt = open_checkpoint(folder)
            try:
                total = 0.0
                for name, info in ckpt.infos.items():
                    if info.dtype.is_floating_point and name in with_base.infos:
                        total += float((ckpt.read(name).double() - with_base.read(name).double()).square().sum())
                norms.append(total**0.5)
            finally:
                ckpt.close()
    finally:
        with_base.close()
    return norms


def recipe(candidate: Candidate, base: Path, models: Sequence[Path], norms: Sequence[float] | None = None) -> dict:
    """The recipe dict for one candidate merging `models` (fine-tuned encoder folders) over `base`."""
    method, value = candidate.method, candidate.value
    entries = [{"model": str(m)} for m in models]
    out: dict = {"dtype": "float32"}
    if method == "simple_average":
        out |= {"merge_method": "linear", "models": entries}
    elif method == "weighted_average":
        # w_i proportional to ||tau_i||^-p: fine-tunes that moved less are not drowned by those that moved more.
        if norms is None:
            raise ValueError("weighted_average needs the task-vector norms")
        weights = [n ** -float(value) for n in norms]
        total = sum(weights)
        out |= {
            "merge_method": "linear",
            "models": [{**e, "parameters": {"weight": round(w / total, 6)}} for e, w in zip(entries, weights)],
        }
    elif method == "model_stock":
        out |= {"merge_method": "model_stock", "base_model": str(base), "models": entries}
    elif method == "slerp":
        first, second = models
        out |= {
            "merge_method": "slerp",
            "base_model": str(first),
            "models": [{"model": str(first)}, {"model": str(second)}],
            "parameters": {"t": 0.5},
        }
    else:
        per_model = {"weight": 1.0, **FIXED.get(method, {})}
        out |= {
            "merge_method": method,
            "base_model": str(base),
            "models": [{**e, "parameters": dict(per_model)} for e in entries],
            "parameters": {"lambda": float(value)},
        }
        if method in ("ties", "dare_ties", "della"):
            out["parameters"]["normalize"] = True  # disjoint mean over the models that agree with the elected sign
    return out


def write_recipe(data: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
