"""Resolve a method's parameters for one output tensor, with mergekit's precedence.

Per-model parameters: the model's own `parameters`, then its slice's, then the top level, then the default.
Global parameters: the slice's, then the top level, then the default. Each level's setting is evaluated for
the tensor (scalar, gradient at the layer position t, or the first matching filter).
"""

from __future__ import annotations

import difflib
from typing import Any

from modelfusion.methods import MergeMethod, ParamSpec
from modelfusion.plan.problems import Problems
from modelfusion.recipe.schema import Parameters
from modelfusion.recipe.settings import evaluate_setting

Levels = list[Parameters | None]


def check_param_names(
    method: MergeMethod, named: list[tuple[str, Parameters | None]], problems: Problems, every: set[str]
) -> None:
    """Every parameter the recipe sets must be one the method takes. A parameter of another method (`every`:
    all registered methods' parameter names; mergekit's tests give every model a `weight`, also for slerp) is
    ignored, as mergekit ignores it, with a warning; any other name is an error (a typo)."""
    known = [p.name for p in method.params]
    for where, params in named:
        for key in params or {}:
            if key in known:
                continue
            if key in every:
                problems.warn(f"{where}: method '{method.name}' does not use parameter '{key}' (ignored)")
            else:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                takes = ", ".join(known) or "none"
                problems.add(f"{where}: method '{method.name}' has no parameter '{key}'{hint}; it takes: {takes}")


def _first_set(levels: Levels, spec: ParamSpec, tensor: str, t: float) -> Any:
    for params in levels:
        if params and spec.name in params:
            value = evaluate_setting(params[spec.name], tensor, t)
            if value is not None:
                return value
    return None


def _finish(spec: ParamSpec, value: Any, method: str, model: str | None, problems: Problems) -> Any:
    who = f" for model {model}" if model else ""
    if value is None:
        if spec.required:  # one message per parameter and model, not one per tensor
            problems.add(
                f"method '{method}' needs parameter '{spec.name}'{who} "
                "(set it at the top level or per model, and end a filter list with an entry without 'filter')"
            )
            return None
        return spec.default
    problem = spec.check(value)
    if problem:
        problems.add(f"{problem}{who}")
        return None
    return spec.coerce(value)


def resolve_params(
    method: MergeMethod,
    tensor: str,
    t: float,
    model_levels: list[tuple[str, Levels]],
    global_levels: Levels,
    problems: Problems,
) -> dict[str, Any]:
    """Parameters for one tensor; per-model ones as lists aligned with `model_levels`."""
    out: dict[str, Any] = {}
    for spec in method.params:
        if spec.per_model:
            out[spec.name] = [
                _finish(spec, _first_set(levels, spec, tensor, t), method.name, model, problems)
                for model, levels in model_levels
            ]
        else:
            out[spec.name] = _finish(spec, _first_set(global_levels, spec, tensor, t), method.name, None, problems)
    problem = method.check_params(out) if method.check_params else None
    if problem:
        problems.add(problem)
    return out
