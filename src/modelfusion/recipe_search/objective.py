"""The objective: a Python function scoring a merged state dict on a split ("validation" or "test").

`def objective(state_dict, split) -> float | dict[str, float]`; a function without a `split` parameter is
called with the state dict only. A dict result names its scores; `search.metric` picks the one optimised.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelfusion.errors import RecipeError
from modelfusion.recipe_search.python_file import FunctionSource, load_function, read_function

ObjectiveFn = Callable[..., Any]


class TrialFailure(Exception):
    """The objective's result cannot be optimised (NaN, not a number, metric missing)."""


@dataclass(frozen=True)
class Objective:
    fn: ObjectiveFn
    metric: str | None = None
    label: str = "objective"
    source: FunctionSource | None = None
    """The function's file, when loaded from one: what pickling ships."""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        if self.source is None:  # a Python callable: pickled by value or reference by cloudpickle (Ray)
            return (Objective, (self.fn, self.metric, self.label))
        return (objective_from_source, (self.source, self.metric))

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
    return objective_from_source(read_function(ref, config_file, "objective.python"), metric)


def objective_from_source(src: FunctionSource, metric: str | None) -> Objective:
    """The Objective of a function file; it pickles as the file's text (see python_file.py)."""
    return Objective(load_function(src), metric, src.ref, source=src)


def make_objective(fn: ObjectiveFn | None, settings: Any, config_file: Path | None, template: Any = None) -> Objective:
    """The objective given in Python, else the config's `objective:` (a function file, or evaluate tasks)."""
    where = str(config_file) if config_file else "search config"
    if fn is not None:
        return Objective(fn, settings.metric, getattr(fn, "__name__", "objective"))
    spec = settings.objective
    if spec is None:
        raise RecipeError("no objective: add 'search.objective.python: file.py:function' (or 'tasks:')", where)
    if spec.tasks is not None:
        from modelfusion.recipe_search.task_objective import make_task_objective

        tasks = make_task_objective(spec, template or {}, config_file)
        metric = settings.metric or ("mean" if len(tasks.load()[1]) > 1 else None)
        return Objective(tasks, metric, "tasks: " + spec.model_dump_json(exclude_defaults=True))
    return load_python_objective(spec.python, config_file, settings.metric)
