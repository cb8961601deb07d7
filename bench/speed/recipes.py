"""The recipes both tools run, in mergekit's YAML (identical text for both)."""

from __future__ import annotations

from pathlib import Path

DTYPES = "dtype: float32\nout_dtype: bfloat16\n"
"""Both tools compute in float32 and write bfloat16, like the inputs."""

SPARSE_PARAMS = {
    "ties": "weight: 0.5, density: 0.5",
    "dare_ties": "weight: 0.5, density: 0.5",
    "della": "weight: 0.5, density: 0.5, epsilon: 0.1",
}
RANDOM = {"dare_ties", "della"}
"""Methods that draw random masks: each tool uses its own generator, so outputs agree only in distribution."""


def recipe(method: str, folders: list[Path]) -> str:
    """`linear` averages all models (weights 0.4 / 0.3 / 0.3); `slerp` goes halfway from folders[0] to folders[1];
    the others merge folders[1:] onto folders[0]."""
    if method == "linear":
        weights = [0.4, 0.3, 0.3][: len(folders)]
        models = "".join(f"  - model: {f}\n    parameters: {{weight: {w}}}\n" for f, w in zip(folders, weights))
        return f"merge_method: linear\nmodels:\n{models}{DTYPES}"
    if method == "slerp":
        return (
            f"merge_method: slerp\nbase_model: {folders[0]}\nmodels:\n  - model: {folders[0]}\n"
            f"  - model: {folders[1]}\nparameters:\n  t: 0.5\n{DTYPES}"
        )
    params = SPARSE_PARAMS[method]
    models = "".join(f"  - model: {f}\n    parameters: {{{params}}}\n" for f in folders[1:])
    extra = "  lambda: 1.0\n" if method == "della" else ""
    return (
        f"merge_method: {method}\nbase_model: {folders[0]}\nmodels:\n{models}"
        f"parameters:\n  normalize: true\n{extra}{DTYPES}"
    )
