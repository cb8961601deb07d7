"""A search space: the ranges found in a recipe template, and a template filled in with one trial's values.

A range is a mapping with a `search` key, allowed as `merge_method` itself or anywhere inside a `parameters`
value (a scalar, a gradient point, a filter entry's value):
`{search: uniform, low, high[, step]}`, `{search: log_uniform, low, high}`, `{search: int, low, high[, step]}`,
`{search: choice, values: [...]}`.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from modelfusion.errors import RecipeError

KINDS = ("uniform", "log_uniform", "int", "choice")
_KEYS = {
    "uniform": {"low", "high", "step"},
    "log_uniform": {"low", "high"},
    "int": {"low", "high", "step"},
    "choice": {"values"},
}

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Range:
    """One searched value: where it sits in the template and what it may take."""

    path: Path
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    values: tuple[Any, ...] = ()

    @property
    def name(self) -> str:
        """The Optuna parameter name: the key path, e.g. `models.0.parameters.weight`."""
        return ".".join(str(p) for p in self.path)

    @property
    def parameter(self) -> str | None:
        """The recipe parameter this range sets (None for `merge_method`)."""
        if "parameters" not in self.path:
            return None
        return str(self.path[self.path.index("parameters") + 1])

    def grid(self) -> list[Any] | None:
        """Every value, for the grid sampler; None when the range is continuous without a `step`."""
        if self.kind == "choice":
            return list(self.values)
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.kind == "uniform" and self.step:
            n = round((self.high - self.low) / self.step)
            return [min(round(self.low + i * self.step, 12), self.high) for i in range(n + 1)]
        return None

    def representative(self) -> Any:
        """A value inside the range, for checking the template before any trial."""
        return self.values[0] if self.kind == "choice" else self.low


def _where(path: Path) -> str:
    return ".".join(str(p) for p in path) or "config"


def _number(v: Any, key: str, path: Path) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise RecipeError(f"{_where(path)}: '{key}' must be a number, got {v!r}")
    return v


def parse_range(node: dict, path: Path) -> Range:
    """Validate one range mapping (low <= high, known kind and keys)."""
    kind = node.get("search")
    if kind not in KINDS:
        close = difflib.get_close_matches(str(kind), KINDS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise RecipeError(f"{_where(path)}: unknown range kind 'search: {kind}'{hint}; use one of {', '.join(KINDS)}")
    extra = set(node) - _KEYS[kind] - {"search"}
    if extra:
        raise RecipeError(f"{_where(path)}: a {kind} range takes {sorted(_KEYS[kind])}, not {sorted(extra)}")
    if kind == "choice":
        values = node.get("values")
        if not isinstance(values, list) or not values:
            raise RecipeError(f"{_where(path)}: a choice range needs a non-empty list 'values'")
        return Range(path, kind, values=tuple(values))
    for key in ("low", "high"):
        if key not in node:
            raise RecipeError(f"{_where(path)}: a {kind} range needs '{key}'")
    low, high = _number(node["low"], "low", path), _number(node["high"], "high", path)
    step = _number(node["step"], "step", path) if "step" in node else None
    if low > high:
        raise RecipeError(f"{_where(path)}: low ({low}) is greater than high ({high})")
    if kind == "int" and (low != int(low) or high != int(high) or (step is not None and step != int(step))):
        raise RecipeError(f"{_where(path)}: an int range needs integer low, high and step")
    if kind == "log_uniform" and low <= 0:
        raise RecipeError(f"{_where(path)}: a log_uniform range needs low > 0, got {low}")
    if step is not None and step <= 0:
        raise RecipeError(f"{_where(path)}: step must be positive, got {step}")
    return Range(path, kind, float(low), float(high), step)


def _walk(node: Any, path: Path) -> Iterator[tuple[Path, dict]]:
    if isinstance(node, dict):
        if "search" in node:
            yield path, node
            return
        for k, v in node.items():
            yield from _walk(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, (*path, i))


def find_ranges(template: dict) -> list[Range]:
    """Every range of `template`, `merge_method` first; a range outside parameters is an error."""
    ranges = []
    for path, node in _walk(template, ()):
        if path != ("merge_method",) and "parameters" not in path:
            raise RecipeError(f"{_where(path)}: a search range may only be a parameter value or merge_method")
        ranges.append(parse_range(node, path))
    return sorted(ranges, key=lambda r: r.path != ("merge_method",))


def fill(template: dict, ranges: list[Range], value_of: Callable[[Range], Any], applies: Callable[[Range], bool]):
    """A copy of `template` with each range replaced by `value_of(range)`.

    A range for which `applies(range)` is False (a parameter the trial's method does not take) is removed
    with its parameter key; value_of is not called for it.
    """
    out = copy.deepcopy(template)
    chosen: dict[str, Any] = {}
    for r in ranges:
        if not applies(r):
            _drop_parameter(out, r.path)
            continue
        chosen[r.name] = value = value_of(r)
        _set(out, r.path, value)
    return out, chosen


def _set(root: Any, path: Path, value: Any) -> None:
    node = root
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


def _drop_parameter(root: Any, path: Path) -> None:
    i = path.index("parameters")
    node = root
    for p in path[: i + 1]:
        node = node[p]
    node.pop(path[i + 1], None)
