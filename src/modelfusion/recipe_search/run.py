"""The search: config checked, inputs opened once, trials run by Optuna, the best recipe scored on test."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna

from modelfusion.errors import OutputError
from modelfusion.recipe_search.check import check_plans, check_ranges
from modelfusion.recipe_search.config import SearchConfig
from modelfusion.recipe_search.objective import Objective, ObjectiveFn, make_objective
from modelfusion.recipe_search.outputs import trial_state, write_best, write_trials_csv
from modelfusion.recipe_search.report import write_report
from modelfusion.recipe_search.samplers import make_sampler
from modelfusion.recipe_search.space import fill
from modelfusion.recipe_search.study import best_trial, done_count, fingerprint, open_study, storage_url
from modelfusion.recipe_search.summary import SearchSummary
from modelfusion.recipe_search.trial import TrialRunner
from modelfusion.recipe_search.trial_merge import DEFAULT_MEMORY_BUDGET, TrialMerger

TrialCallback = Callable[[optuna.Study, optuna.trial.FrozenTrial, int, int], None]
"""on_trial(study, trial, done, total): called after each trial (done counts the resumed ones)."""


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna logs every trial (and a traceback per failure) at INFO/WARNING; the study records them instead."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


def _model_refs(config: SearchConfig) -> list[str]:
    from modelfusion.recipe import parse_recipe

    recipe, _ = fill(config.template, config.ranges, lambda r: r.representative(), lambda r: True)
    return parse_recipe(recipe, where=config.where).model_paths()


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError("exists and is not a folder", str(out))


def run_search(
    config: SearchConfig,
    out: Path,
    objective_fn: ObjectiveFn | None = None,
    *,
    merge_best: bool = False,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    threads: int = 1,
    on_trial: TrialCallback | None = None,
    plots: bool = True,
    ray: str | None = None,
) -> SearchSummary:
    """Run (or continue) the search of `config` into `out`; every check happens before the first trial.

    `ray`: None runs trials here (`workers` threads); `local`, `auto` or a cluster address runs them on `workers`
    Ray actors (see ray_trials.py).
    """
    settings = config.settings
    objective = make_objective(objective_fn, settings, config.source, config.template)
    check_ranges(config)
    _check_out(out)
    merger = TrialMerger(_model_refs(config), config.source, threads=threads, random_seed=settings.random_seed)
    try:
        check_plans(config, merger)
        merger.hold(memory_budget)
        out.mkdir(parents=True, exist_ok=True)
        url = storage_url(settings.storage, out)
        label = objective.label if objective_fn is None else "a Python callable"  # its name may change freely
        key = fingerprint(config.template, settings.sampler, settings.direction, label)
        with _quiet_optuna():
            study = open_study(url, settings.direction, key, optuna.samplers.RandomSampler(), config.where)
            try:
                with _trial_place(ray, config.where) as ray_module:
                    _execute(study, config, merger, objective, on_trial, ray_module, threads)
            finally:
                write_trials_csv(out, study)
            return _finish(study, config, merger, objective, out, url, merge_best, plots)
    finally:
        merger.close()


@contextlib.contextmanager
def _trial_place(ray: str | None, where: str) -> Iterator[Any]:
    """The ray module, connected, when trials run on Ray; else None."""
    if ray is None:
        yield None
        return
    from modelfusion.recipe_search.ray_trials import ray_session

    with ray_session(ray, where) as module:
        yield module


def _execute(
    study: optuna.Study,
    config: SearchConfig,
    merger: TrialMerger,
    objective: Objective,
    on_trial: TrialCallback | None,
    ray: Any,
    threads: int,
) -> None:
    settings = config.settings
    if settings.sampler == "greedy_soup":
        from modelfusion.recipe_search.greedy_soup import run_greedy_soup

        if ray is None:
            run_greedy_soup(study, config, merger, objective, on_trial)
            return
        from modelfusion.recipe_search.ray_trials import soup_scorer

        with soup_scorer(ray, merger, objective, threads) as run:
            run_greedy_soup(study, config, merger, objective, on_trial, run)
        return
    done = done_count(study)
    study.sampler = make_sampler(settings.sampler, config.ranges, settings.seed, done)
    total = settings.trials
    if done >= total:
        return
    progress = {"done": done}

    def after(s: optuna.Study, t: optuna.trial.FrozenTrial) -> None:
        progress["done"] += 1
        if on_trial is not None:
            on_trial(s, t, progress["done"], total)

    runner = TrialRunner(config, merger, objective)
    if ray is not None:
        from modelfusion.recipe_search.ray_trials import optimize_on_ray

        optimize_on_ray(ray, study, config, runner, total - done, after, threads)
        return
    study.optimize(
        runner,
        n_trials=total - done,
        timeout=settings.timeout,
        n_jobs=settings.workers,
        catch=(Exception,),
        callbacks=[after],
    )


def _finish(
    study: optuna.Study,
    config: SearchConfig,
    merger: TrialMerger,
    objective: Objective,
    out: Path,
    url: str,
    merge_best: bool,
    plots: bool,
) -> SearchSummary:
    """best.yaml, the one test score of the best trial, search_report.md, and the merged model if asked."""
    states = Counter(trial_state(t) for t in study.get_trials(deepcopy=False))
    summary = SearchSummary(
        out=out,
        storage=url,
        direction=config.settings.direction,
        sampler=config.settings.sampler,
        states=dict(states),
        input_in_memory=merger.in_memory,
    )
    best = best_trial(study)
    if best is not None:
        summary.best_number, summary.best_value, summary.best_params = best.number, best.value, dict(best.params)
        if "soup" in best.user_attrs:  # greedy soup: the members, by their index in the recipe's models
            summary.best_params["soup"] = best.user_attrs["soup"]
        summary.best_recipe = write_best(out, best)
        state = merger.merge(merger.resolve(best.user_attrs["recipe"]))
        summary.test_value, summary.test_scores = objective(state, "test")
        del state
        if merge_best:
            from modelfusion.api import merge

            merge(summary.best_recipe, out / "model", overwrite=True, random_seed=config.settings.random_seed)
            summary.model = out / "model"
    summary.report = write_report(out, study, summary, plots=plots)
    return summary
