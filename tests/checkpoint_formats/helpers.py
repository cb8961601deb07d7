"""Shared helpers of the format tests: recipes, the CLI, and checks of a clean failure."""

from __future__ import annotations

from pathlib import Path

from tests.hostile.conftest import assert_clean_failure, linear_recipe, run_cli

__all__ = ["assert_clean_failure", "linear_recipe", "merge_cli", "run_cli", "weighted_recipe"]


def weighted_recipe(folder: Path, models: list[Path], weights: list[float], base: Path | None = None) -> Path:
    """A linear recipe with explicit weights (and an optional base_model, which sets the output's layout)."""
    lines = ["merge_method: linear"]
    if base is not None:
        lines.append(f"base_model: {base}")
    lines.append("models:")
    for m, w in zip(models, weights, strict=True):
        lines += [f"  - model: {m}", "    parameters:", f"      weight: {w}"]
    path = folder / "recipe.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def merge_cli(recipe: Path, out: Path, *extra: str):
    """`modelfusion merge RECIPE OUT -q -j 1 ...`; asserts success."""
    result = run_cli("merge", recipe, out, "-q", "-j", "1", *extra)
    assert result.exit_code == 0, result.output
    return result
