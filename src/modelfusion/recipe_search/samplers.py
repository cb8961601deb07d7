"""The Optuna sampler a config names, and how one range is suggested to a trial."""

from __future__ import annotations

from typing import Any

import optuna

from modelfusion.recipe_search.space import Range


def make_sampler(name: str, ranges: list[Range], seed: int | None, done: int) -> optuna.samplers.BaseSampler:
    """`done` trials already in the study shift the seed, so a resumed search does not replay its first draws."""
    s = None if seed is None else seed + done
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=s)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=s)
    if name == "cmaes":
        # CMA-ES keeps its state in the study; categorical ranges fall back to random draws (Optuna's rule)
        return optuna.samplers.CmaEsSampler(seed=s, warn_independent_sampling=False)
    if name == "grid":
        return optuna.samplers.GridSampler({r.name: r.grid() for r in ranges}, seed=seed)
    raise ValueError(f"no Optuna sampler for {name!r}")


def suggest(trial: optuna.Trial, r: Range, grid: bool) -> Any:
    """The trial's value for range `r` (on the grid sampler every range is a list of values)."""
    if grid or r.kind == "choice":
        return trial.suggest_categorical(r.name, r.grid() if grid else list(r.values))
    if r.kind == "int":
        return trial.suggest_int(r.name, int(r.low), int(r.high), step=int(r.step or 1))
    if r.kind == "log_uniform":
        return trial.suggest_float(r.name, r.low, r.high, log=True)
    return trial.suggest_float(r.name, r.low, r.high, step=r.step)
