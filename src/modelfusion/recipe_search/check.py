"""Everything checkable before the first trial: methods, ranged parameters and their bounds, the merge plan."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelfusion.errors import PlanError, RecipeError, UserError
from modelfusion.methods import get_method
from modelfusion.recipe_search.config import SearchConfig
from modelfusion.recipe_search.space import Range, fill


def method_choices(config: SearchConfig) -> list[str]:
    """The methods the search may use: a `merge_method` choice's values, else the one method."""
    for r in config.ranges:
        if r.path == ("merge_method",):
            if r.kind != "choice" or not all(isinstance(v, str) for v in r.values):
                raise RecipeError("merge_method: a range on it must be a choice of method names", config.where)
            return list(r.values)
    method = config.template.get("merge_method")
    if not isinstance(method, str):
        raise RecipeError("missing required key 'merge_method'", config.where)
    return [method]


def parameters_of(method: str, where: str) -> dict[str, Any]:
    """Parameter name -> ParamSpec of `method` (an unknown method is a user error naming the config)."""
    try:
        spec = get_method(method)
    except RecipeError as e:
        raise RecipeError(e.message, where) from None
    return {p.name: p for p in spec.params}


def applies_to(method: str, where: str) -> Callable[[Range], bool]:
    """Whether a range is used when the trial's method is `method` (its parameter is one the method takes)."""
    names = set(parameters_of(method, where))
    return lambda r: r.parameter is None or r.parameter in names


def check_ranges(config: SearchConfig) -> None:
    """Each ranged parameter belongs to some method of the search and its bounds are within the method's."""
    methods = method_choices(config)
    specs = {m: parameters_of(m, config.where) for m in methods}
    for r in config.ranges:
        if r.parameter is None:
            continue
        owners = [specs[m][r.parameter] for m in methods if r.parameter in specs[m]]
        if not owners:
            raise RecipeError(
                f"{r.name}: a range on '{r.parameter}', which {' / '.join(methods)} does not take", config.where
            )
        bounds = list(r.values) if r.kind == "choice" else [r.low, r.high]
        if r.kind == "int":
            bounds = [int(b) for b in bounds]
        for spec in owners:
            for b in bounds:
                problem = spec.check(b)
                if problem:
                    raise RecipeError(f"{r.name}: {problem}", config.where)


def check_plans(config: SearchConfig, merger: Any) -> None:
    """Plan the template once per method, ranges at a representative value: no tensor is read."""
    for method in method_choices(config):
        applies = applies_to(method, config.where)

        def value_of(r: Range, method: str = method) -> Any:
            return method if r.path == ("merge_method",) else r.representative()

        recipe, _ = fill(config.template, config.ranges, value_of, applies)
        try:
            plan = merger.plan(merger.resolve(recipe, config.where))
        except PlanError as e:
            raise PlanError(e.problems, config.where) from None
        except UserError as e:
            raise type(e)(e.message, config.where) from None
        for c in plan.statistics.values():
            c.close()
