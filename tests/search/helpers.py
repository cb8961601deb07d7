"""Search configs and objectives over the tiny models of conftest.py."""

from __future__ import annotations

from pathlib import Path

import torch

RANGE = {"search": "uniform", "low": 0.0, "high": 1.0}


def weights_config(models: dict[str, Path], sampler: str = "random", trials: int = 4, **search) -> dict:
    """task_arithmetic over a and b with each model's weight searched in [0, 1]."""
    return {
        "merge_method": "task_arithmetic",
        "base_model": str(models["base"]),
        "models": [
            {"model": str(models["a"]), "parameters": {"weight": dict(RANGE)}},
            {"model": str(models["b"]), "parameters": {"weight": dict(RANGE)}},
        ],
        "search": {"trials": trials, "sampler": sampler, "seed": 0, **search},
    }


def distance(state: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> float:
    return sum(float(((state[k] - target[k]) ** 2).sum()) for k in target)
