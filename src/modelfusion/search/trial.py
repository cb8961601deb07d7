"""One trial: fill the template from Optuna's suggestions, merge in memory, score on the validation split."""

from __future__ import annotations

import math
import time
import traceback
from typing import Any

import optuna

from modelfusion.search.check import applies_to
from modelfusion.search.config import SearchConfig
from modelfusion.search.objective import Objective
from modelfusion.search.samplers import suggest
from modelfusion.search.space import Range, fill
from modelfusion.search.trial_merge import TrialMerger


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

    def __call__(self, trial: optuna.Trial) -> float:
        start = time.perf_counter()
        try:
            recipe, _ = self.recipe_for(lambda r: suggest(trial, r, self.grid))
            trial.set_user_attr("recipe", recipe)
            state = self.merger.merge(self.merger.resolve(recipe))
            merged = time.perf_counter()
            trial.set_user_attr("merge_seconds", round(merged - start, 4))
            value, scores = self.objective(state, "validation")
            del state
            for name, score in scores.items():
                trial.set_user_attr(f"score_{name}", score if math.isfinite(score) else str(score))
        except Exception as e:
            trial.set_user_attr("error", f"{type(e).__name__}: {e}"[:2000])
            trial.set_user_attr("traceback", traceback.format_exc()[-4000:])
            trial.set_user_attr("seconds", round(time.perf_counter() - start, 4))
            raise
        trial.set_user_attr("seconds", round(time.perf_counter() - start, 4))
        return value
