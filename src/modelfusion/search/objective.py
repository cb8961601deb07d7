"""The objective: a Python function scoring a merged state dict on a split ("validation" or "test").

`def objective(state_dict, split) -> float | dict[str, float]`; a function without a `split` parameter is
called with the state dict only. A dict result names its scores; `search.metric` picks the one optimised.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelfusion.errors import RecipeError

ObjectiveFn = Callable[..., Any]


class TrialFailure(Exception):
    """The objective's result cannot be optimised (NaN, not a number, metric missing)."""


@dataclass(frozen=True)
class Objective:
    fn: ObjectiveFn
    metric: str | None = None
    label: str = "objective"

    @property
    def takes_split(self) -> bool:
        try:
            params = inspect.signature(self.fn).parameters
        except (TypeError, ValueError):
            return True
        return "split" in params or len(params) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params.values())

    def __call__(self, state_dict: Mapping[str, Any], split: str) -> tuple[float, dict[str, float]]:
        """The optimised value and every named score."""
        raw = self.fn(state_dict, split) if self.takes_split else self.fn(state_dict)
        return score_of(raw, self.metric)


def score_of(raw: Any, metric: str | None) -> tuple[float, dict[str, float]]:
    if isinstance(raw, Mapping):
        scores = {str(k): _float(v, str(k)) for k, v in raw.items()}
        if metric is None:
            if len(scores) != 1:
                raise TrialFailure(f"the objective returned {sorted(scores)}: set search.metric to pick one")
            metric = next(iter(scores))
        if metric not in scores:
            raise TrialFailure(f"the objective returned no '{metric}' (it returned {sorted(scores)})")
        value = scores[metric]
    else:
        value = _float(raw, "value")
        scores = {}
    if math.isnan(value):
        raise TrialFailure("the objective returned NaN")
    return value, scores


def _float(v: Any, name: str) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        raise TrialFailure(f"the objective's {name} is not a number: {v!r}") from None


def load_python_objective(ref: str, config_file: Path | None, metric: str | None) -> Objective:
    """`path/to/file.py:function` (relative to the working directory, then to the config's folder)."""
    where = str(config_file) if config_file else "search config"
    file, sep, name = ref.rpartition(":")
    if not sep or not file or not name:
        raise RecipeError(f"objective.python must be 'path/to/file.py:function', got {ref!r}", where)
    path = Path(file).expanduser()
    if not path.is_file() and config_file is not None and (config_file.parent / path).is_file():
        path = config_file.parent / path
    if not path.is_file():
        raise RecipeError(f"objective file '{file}' not found", where)
    module_name = f"_modelfusion_objective_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise RecipeError(f"cannot import objective file '{file}'", where)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # so Ray / pickling can find functions defined there
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise RecipeError(f"importing objective file '{file}' failed: {type(e).__name__}: {e}", where) from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise RecipeError(f"objective file '{file}' has no function '{name}'", where)
    return Objective(fn, metric, f"{file}:{name}")


def make_objective(fn: ObjectiveFn | None, settings: Any, config_file: Path | None) -> Objective:
    """The objective given in Python, else the config's `objective:`."""
    where = str(config_file) if config_file else "search config"
    if fn is not None:
        return Objective(fn, settings.metric, getattr(fn, "__name__", "objective"))
    spec = settings.objective
    if spec is None:
        raise RecipeError("no objective: add 'search.objective.python: file.py:function'", where)
    if spec.tasks is not None:
        raise RecipeError("objective.tasks (built-in evaluate tasks) is not implemented yet; use 'python:'", where)
    return load_python_objective(spec.python, config_file, settings.metric)
