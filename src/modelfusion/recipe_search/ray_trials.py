"""Trials on Ray: `workers` actors, each holding the inputs and the objective, score the recipes the driver asks.

The driver keeps the Optuna study (asks, tells, storage); an actor receives the TrialMerger and the Objective
once, when it starts (held inputs travel through the object store, else the actor opens the same paths), and then
only a recipe per trial. Trials are asked in order, so a seeded random search draws the same trials as in one
process.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import optuna
from optuna.trial import TrialState

from modelfusion.errors import UserError
from modelfusion.recipe_search.config import SearchConfig
from modelfusion.recipe_search.objective import Objective
from modelfusion.recipe_search.trial import Attempt, Outcome, TrialRunner, attempt, record
from modelfusion.recipe_search.trial_merge import TrialMerger


class TrialWorker:
    """The Ray actor: one merger (inputs opened or held) and one objective for all its trials."""

    def __init__(self, merger: TrialMerger, objective: Objective) -> None:
        self.merger, self.objective = merger, objective

    def ready(self) -> bool:
        return True

    def score(self, recipe: dict) -> Outcome:
        return attempt(self.merger, self.objective, recipe)


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError("--ray needs the distributed extra: pip install 'modelfusion[distributed]'") from None
    return ray


@contextlib.contextmanager
def ray_session(address: str, where: str) -> Iterator[Any]:
    """Ray connected: a running `ray.init` is used as is; else `local` starts one here, `auto` or ADDRESS joins a
    cluster. A session started here is shut down at the end."""
    ray = _ray()
    if ray.is_initialized():
        yield ray
        return
    try:
        if address == "local":
            ray.init(address="local", include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except Exception as e:  # no cluster at that address, a version mismatch, ...
        raise UserError(f"cannot connect to Ray at {address!r}: {str(e).splitlines()[0]}", where) from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _cause(e: BaseException) -> str:
    """The last line of a Ray error (its text ends with the original exception)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return lines[-1] if lines else type(e).__name__


class _Pool:
    """Actors by state: idle, or busy with one trial (keyed by the result's ObjectRef)."""

    def __init__(self, ray: Any, n: int, merger: TrialMerger, objective: Objective, threads: int) -> None:
        self.ray = ray
        self.actor = ray.remote(num_cpus=threads)(TrialWorker)
        self.shipped = (ray.put(merger), ray.put(objective))  # serialized once, fetched once by each actor
        self.idle = [self.actor.remote(*self.shipped) for _ in range(n)]
        self.busy: dict[Any, tuple[Any, Any]] = {}
        try:
            ray.get([w.ready.remote() for w in self.idle])
        except Exception as e:  # unpickling the objective or opening the inputs failed on a worker
            self.close()
            raise UserError(f"the Ray workers could not start: {_cause(e)}") from None

    def submit(self, trial: Any, recipe: dict) -> None:
        worker = self.idle.pop()
        self.busy[worker.score.remote(recipe)] = (worker, trial)

    def next_done(self) -> tuple[optuna.Trial, Outcome]:
        [ref], _ = self.ray.wait(list(self.busy), num_returns=1)
        worker, trial = self.busy.pop(ref)
        try:
            outcome = self.ray.get(ref)
        except Exception as e:  # the actor died (out of memory, a crash in native code): a new one replaces it
            outcome = {"error": f"Ray worker failed: {type(e).__name__}: {_cause(e)}"[:2000]}
            self.ray.kill(worker)
            worker = self.actor.remote(*self.shipped)
        self.idle.append(worker)
        return trial, outcome

    def close(self) -> list[optuna.Trial]:
        """Stop every actor; the trials still running (to be marked interrupted)."""
        running = [trial for _, trial in self.busy.values()]
        for worker in [*self.idle, *(w for w, _ in self.busy.values())]:
            self.ray.kill(worker)
        return running


def optimize_on_ray(
    ray: Any,
    study: optuna.Study,
    config: SearchConfig,
    runner: TrialRunner,
    n_trials: int,
    after: Callable[[optuna.Study, optuna.trial.FrozenTrial], None],
    threads: int = 1,
) -> None:
    """Run `n_trials` trials (fewer if the timeout passes first), `workers` at a time."""
    settings = config.settings
    deadline = None if settings.timeout is None else time.monotonic() + settings.timeout
    left = n_trials  # trials still to start
    pool = _Pool(ray, settings.workers, runner.merger, runner.objective, threads)
    try:
        while True:
            while pool.idle and left > 0 and (deadline is None or time.monotonic() < deadline):
                trial = study.ask()
                left -= 1
                recipe = runner.suggest_recipe(trial)
                if recipe is None:
                    _tell(study, trial, {})
                    after(study, study.trials[-1])
                    continue
                pool.submit(trial, recipe)
            if not pool.busy:
                return
            trial, outcome = pool.next_done()
            record(trial, outcome)
            after(study, _tell(study, trial, outcome))
    finally:
        for trial in pool.close():  # Ctrl-C: no `error`, so they count as interrupted and run again
            study.tell(trial, state=TrialState.FAIL)


def _tell(study: optuna.Study, trial: optuna.Trial, outcome: Outcome) -> optuna.trial.FrozenTrial:
    if "value" in outcome:
        return study.tell(trial, outcome["value"])
    return study.tell(trial, state=TrialState.FAIL)


@contextlib.contextmanager
def soup_scorer(ray: Any, merger: TrialMerger, objective: Objective, threads: int = 1) -> Iterator[Attempt]:
    """Greedy soup's `run(recipe) -> outcome` on one Ray actor (each soup depends on the last: one at a time)."""
    pool = _Pool(ray, 1, merger, objective, threads)

    def run(recipe: dict) -> Outcome:
        pool.submit(None, recipe)
        return pool.next_done()[1]

    try:
        yield run
    finally:
        pool.close()
