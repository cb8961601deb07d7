"""The objective: a Python function scoring a merged state dict on a split ("validation" or "test").

`def objective(state_dict, split) -> float | dict[str, float]`; a function without a `split` parameter is
called with the state dict only. A dict result names its scores; `search.metric` picks the one optimised.
"""

from __future__ import annotations

import inspect
import math
import types
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
    source: tuple[str, str, str, str] | None = None
    """(file text, file path, function name, config) when loaded from a file: what pickling ships."""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        if self.source is None:  # a Python callable: pickled by value or reference by cloudpickle (Ray)
            return (Objective, (self.fn, self.metric, self.label))
        text, path, name, where = self.source
        return (objective_from_source, (text, path, name, self.metric, self.label, where))

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
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RecipeError(f"cannot read objective file '{file}': {e}", where) from None
    return objective_from_source(source, str(path.resolve()), name, metric, f"{file}:{name}", where)


def objective_from_source(source: str, path: str, name: str, metric: str | None, label: str, where: str) -> Objective:
    """Run the objective file's text as a module of its own (not registered in sys.modules) and take `name`.

    The Objective pickles as this text, not as the function: a Ray worker (or any process) unpickling it runs the
    file once there, so the objective and whatever the file loads at import travel once per worker.
    """
    module = types.ModuleType(Path(path).stem)
    module.__file__ = path
    try:
        exec(compile(source, path, "exec"), module.__dict__)
    except Exception as e:
        raise RecipeError(
            f"importing objective file '{label.rpartition(':')[0]}' failed: {type(e).__name__}: {e}", where
        ) from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise RecipeError(f"objective file '{label.rpartition(':')[0]}' has no function '{name}'", where)
    return Objective(fn, metric, label, source=(source, path, name, where))


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
