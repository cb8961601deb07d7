"""Greedy soup (Wortsman et al. 2022, "Model soups", Recipe 1): the recipe's models are the ingredients.

Each model is scored alone on validation; then, best first, a model joins the soup only if the soup's score
improves. A soup is the recipe restricted to its members (with `linear` and no weights: the uniform average).
Every soup scored is a trial of the study (user attribute `soup`: the members' indices), so a resumed run
replays finished trials from the database and scores only what is missing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import optuna
from optuna.trial import TrialState

from modelfusion.errors import RecipeError
from modelfusion.recipe_search.config import SearchConfig
from modelfusion.recipe_search.objective import Objective
from modelfusion.recipe_search.study import counted
from modelfusion.recipe_search.trial import Attempt, attempt, record
from modelfusion.recipe_search.trial_merge import TrialMerger


def _soup_recipe(template: dict, members: list[int]) -> dict:
    recipe = copy.deepcopy(template)
    recipe["models"] = [recipe["models"][i] for i in members]
    return recipe


def run_greedy_soup(
    study: optuna.Study,
    config: SearchConfig,
    merger: TrialMerger,
    objective: Objective,
    on_trial: Callable[..., None] | None,
    run: Attempt | None = None,
) -> None:
    """The soup, trial by trial; `run(recipe) -> outcome` scores one soup (default: here, see trial.attempt)."""
    run = run or (lambda recipe: attempt(merger, objective, recipe))
    models = config.template.get("models")
    if not models:
        raise RecipeError("greedy_soup needs a 'models' list (its ingredients)", config.where)
    maximize = config.settings.direction == "maximize"
    known = {
        tuple(t.user_attrs["soup"]): t.value
        for t in study.get_trials(deepcopy=False)
        if counted(t) and "soup" in t.user_attrs
    }
    total = 2 * len(models) - 1

    def score(members: list[int]) -> float | None:
        key = tuple(members)
        if key not in known:
            known[key] = _trial(study, config, merger, run, members)
            if on_trial is not None:
                on_trial(study, study.trials[-1], len(known), total)
        return known[key]

    def better(a: float | None, b: float | None) -> bool:
        return a is not None and (b is None or (a > b if maximize else a < b))

    alone = {i: score([i]) for i in range(len(models))}
    ranked = sorted((i for i in alone if alone[i] is not None), key=lambda i: alone[i], reverse=maximize)
    if not ranked:
        return
    soup, best = [ranked[0]], alone[ranked[0]]
    for i in ranked[1:]:
        candidate = sorted([*soup, i])
        value = score(candidate)
        if better(value, best):
            soup, best = candidate, value


def _trial(
    study: optuna.Study, config: SearchConfig, merger: TrialMerger, run: Attempt, members: list[int]
) -> float | None:
    """Score one soup as a new trial; None if it failed (recorded as FAIL with its error)."""
    trial = study.ask()
    trial.set_user_attr("soup", members)
    try:
        recipe = merger.resolve(_soup_recipe(config.template, members), config.where)
    except Exception as e:
        outcome = {"error": f"{type(e).__name__}: {e}"[:2000], "seconds": 0.0}
    else:
        trial.set_user_attr("recipe", recipe.model_dump(mode="json", exclude_none=True))
        outcome = run(trial.user_attrs["recipe"])
    record(trial, outcome)
    if "error" in outcome:
        study.tell(trial, state=TrialState.FAIL)
        return None
    study.tell(trial, outcome["value"])
    return outcome["value"]
