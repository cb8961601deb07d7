"""One trial: fill the template from Optuna's suggestions, merge in memory, score on the validation split.

`attempt` (merge + score, every error caught) is the same in this process, in a greedy soup and on a Ray worker;
`record` writes its result into the trial's user attributes.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable
from typing import Any

import optuna

from modelfusion.recipe_search.check import applies_to
from modelfusion.recipe_search.config import SearchConfig
from modelfusion.recipe_search.objective import Objective, TrialFailure
from modelfusion.recipe_search.samplers import suggest
from modelfusion.recipe_search.space import Range, fill
from modelfusion.recipe_search.trial_merge import TrialMerger

Outcome = dict[str, Any]
"""value and scores, or error and traceback; merge_seconds, seconds."""

Attempt = Callable[[dict], Outcome]
"""run(recipe) -> outcome: where a trial's recipe is merged and scored."""


def attempt(merger: TrialMerger, objective: Objective, recipe: dict, split: str = "validation") -> Outcome:
    """Merge `recipe` (model paths resolved) in memory and score it; an Exception becomes the outcome's error."""
    start = time.perf_counter()
    out: Outcome = {}
    try:
        state = merger.merge(merger.resolve(recipe))
        out["merge_seconds"] = round(time.perf_counter() - start, 4)
        out["value"], out["scores"] = objective(state, split)
        del state
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"[:2000]
        out["traceback"] = traceback.format_exc()[-4000:]
    out["seconds"] = round(time.perf_counter() - start, 4)
    return out


def record(trial: optuna.Trial, outcome: Outcome) -> None:
    """The outcome as user attributes (scores as `score_NAME`); the value is told by the caller."""
    for key in ("merge_seconds", "error", "traceback", "seconds"):
        if key in outcome:
            trial.set_user_attr(key, outcome[key])
    for name, score in outcome.get("scores", {}).items():
        trial.set_user_attr(f"score_{name}", score if math.isfinite(score) else str(score))


class TrialRunner:
    """The callable Optuna's `study.optimize` runs; records the recipe, the scores and any error."""

    def __init__(self, config: SearchConfig, merger: TrialMerger, objective: Objective) -> None:
        self.config = config
        self.merger = merger
        self.objective = objective
        self.grid = config.settings.sampler == "grid"

    def recipe_for(self, value_of: Any) -> tuple[dict, dict]:
        """The filled recipe dict (model paths absolute) and the values chosen, as `value_of(range)` says."""
        method: list[str] = [self.config.template.get("merge_method", "")]

        def pick(r: Range) -> Any:
            v = value_of(r)
            if r.path == ("merge_method",):
                method[0] = v
            return v

        def applies(r: Range) -> bool:
            return r.parameter is None or applies_to(method[0], self.config.where)(r)

        filled, chosen = fill(self.config.template, self.config.ranges, pick, applies)
        recipe = self.merger.resolve(filled, self.config.where)
        return recipe.model_dump(mode="json", exclude_none=True), chosen

    def suggest_recipe(self, trial: optuna.Trial) -> dict | None:
        """The trial's recipe, stored on it; None (the error recorded) if it cannot be built."""
        start = time.perf_counter()
        try:
            recipe, _ = self.recipe_for(lambda r: suggest(trial, r, self.grid))
        except Exception as e:
            record(trial, {"error": f"{type(e).__name__}: {e}"[:2000], "traceback": traceback.format_exc()[-4000:]})
            trial.set_user_attr("seconds", round(time.perf_counter() - start, 4))
            return None
        trial.set_user_attr("recipe", recipe)
        return recipe

    def __call__(self, trial: optuna.Trial) -> float:
        recipe = self.suggest_recipe(trial)
        if recipe is None:
            raise TrialFailure(trial.user_attrs["error"])
        outcome = attempt(self.merger, self.objective, recipe)
        record(trial, outcome)
        if "error" in outcome:
            raise TrialFailure(outcome["error"])
        return outcome["value"]
