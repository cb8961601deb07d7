"""AdaMerging's output: the learned coefficients written as a plain `task_arithmetic` recipe.

    theta = theta_base + 1.0 * sum_k w_k(t) (theta_k - theta_base)      for every tensor t  (normalize: false)

with `w_k(t)` the coefficient of model k for tensor t given as a per-model `weight`: a scalar when it is the same
for every tensor (task-wise), else a filter list (mergekit's rule, recipe/settings.py: the first entry whose
`filter` is a substring of the tensor name). The list has one entry per tensor whose coefficient differs from the
most common one (the final `{value: ...}` entry), plus every tensor that an earlier entry would otherwise catch,
ordered by decreasing name length, so that each listed tensor meets its own entry first: a name can only be a
substring of a longer (or equal) name. Coefficients are float32 values written as Python floats (exact in YAML).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml


def weight_setting(values: Mapping[str, float]) -> float | list[dict[str, Any]]:
    """The `weight` parameter giving tensor `name` exactly `values[name]` (see the module docstring)."""
    if not values:
        raise ValueError("no tensors to weigh")
    default = Counter(values.values()).most_common(1)[0][0]
    listed = {name for name, value in values.items() if value != default}
    while True:
        caught = {n for n in values if n not in listed and any(f in n for f in listed)}
        if not caught:
            break
        listed |= caught
    if not listed:
        return default
    entries: list[dict[str, Any]] = [
        {"filter": name, "value": values[name]} for name in sorted(listed, key=lambda n: (-len(n), n))
    ]
    return [*entries, {"value": default}]


def adamerging_recipe(base: str, models: Sequence[str], coefficients: Sequence[Mapping[str, float]]) -> dict[str, Any]:
    """The recipe merging `models` onto `base` with the per-tensor `coefficients` of each model."""
    if len(models) != len(coefficients):
        raise ValueError(f"{len(models)} models but {len(coefficients)} coefficient sets")
    return {
        "merge_method": "task_arithmetic",
        "base_model": base,
        "models": [
            {"model": name, "parameters": {"weight": weight_setting(values)}}
            for name, values in zip(models, coefficients)
        ],
        "parameters": {"lambda": 1.0, "normalize": False},
    }


def write_recipe(recipe: Mapping[str, Any], path: str | Path, comment: str = "") -> Path:
    """Write `recipe` as YAML (floats as Python's repr: they read back bit for bit), with a `#` comment header."""
    path = Path(path)
    header = "".join(f"# {line}\n" for line in comment.splitlines())
    path.write_text(header + yaml.safe_dump(dict(recipe), sort_keys=False, width=120), encoding="utf-8")
    return path
