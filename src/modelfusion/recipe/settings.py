"""Evaluate a parameter setting for one tensor: scalar, gradient, or filter list (mergekit semantics)."""

from __future__ import annotations

from typing import Any

from modelfusion.recipe.schema import FilterEntry, ParameterValue


def interpolate_gradient(points: list[float], t: float) -> float:
    """Piecewise-linear value at t in [0, 1] of `points` spread evenly over [0, 1].

    [a] -> a; [a, b] -> a + (b - a) t; [a, b, c] -> a..b over t in [0, .5], b..c over [.5, 1].
    """
    if len(points) == 1:
        return float(points[0])
    scaled = min(max(t, 0.0), 1.0) * (len(points) - 1)
    i = min(int(scaled), len(points) - 2)
    frac = scaled - i
    return float(points[i]) * (1 - frac) + float(points[i + 1]) * frac


def evaluate_setting(value: ParameterValue, tensor_name: str, t: float) -> Any:
    """The value of a setting for `tensor_name` at layer position t (0 = first layer, 1 = last).

    A filter list takes the first entry, in order, that has no `filter`, whose `filter` is "*" (every tensor), or
    whose `filter` is a substring of the tensor name (mergekit 0.1.5's rule: no other wildcard); None if nothing
    matches (the next level of precedence then decides).
    """
    if isinstance(value, list):
        if value and isinstance(value[0], FilterEntry):
            for entry in value:
                if entry.filter is None or entry.filter == "*" or entry.filter in tensor_name:
                    return evaluate_setting(entry.value, tensor_name, t)
            return None
        return interpolate_gradient([float(v) for v in value], t)
    return value
