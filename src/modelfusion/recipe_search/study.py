"""The study: Optuna's own RDB schema (SQLite in OUT by default), resumed when the same search runs again.

A trial that raised or returned NaN is FAIL with a user attribute `error`; a trial cut short (Ctrl-C, kill -9)
is FAIL without one and does not count towards `trials`, so a resumed search runs exactly the missing ones.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from modelfusion.errors import UserError

STUDY_NAME = "modelfusion-search"


def storage_url(storage: str | None, out: Path) -> str:
    return storage or f"sqlite:///{(out / 'study.db').resolve()}"


def fingerprint(template: dict[str, Any], sampler: str, direction: str, objective: str) -> str:
    """What must match for a stored study to be continued: the space, the sampler, the direction, the objective."""
    blob = json.dumps([template, sampler, direction, objective], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def open_study(url: str, direction: str, key: str, sampler: optuna.samplers.BaseSampler, where: str) -> optuna.Study:
    """Create the study, or load it when it exists (refused if it belongs to another search)."""
    try:
        study = optuna.create_study(
            storage=url, study_name=STUDY_NAME, direction=direction, sampler=sampler, load_if_exists=True
        )
    except Exception as e:  # an unusable storage URL or database
        raise UserError(f"cannot open the study storage {url!r}: {e}", where) from None
    stored = study.user_attrs.get("fingerprint")
    if stored is None:
        study.set_user_attr("fingerprint", key)
    elif stored != key:
        raise UserError(
            f"{url} holds a search with another space, sampler, direction or objective; use a new OUT to start over",
            where,
        )
    if study.direction.name.lower() != direction:
        raise UserError(f"{url} holds a search that was to {study.direction.name.lower()}", where)
    _close_stale(study)
    return study


def _close_stale(study: optuna.Study) -> None:
    """Trials left RUNNING by a killed process are marked FAIL (interrupted, not counted)."""
    storage = study._storage
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)


def counted(t: FrozenTrial) -> bool:
    """Finished trials: complete, or failed by their own error (an interrupted one is run again)."""
    return t.state == TrialState.COMPLETE or (t.state == TrialState.FAIL and "error" in t.user_attrs)


def done_count(study: optuna.Study) -> int:
    return sum(counted(t) for t in study.get_trials(deepcopy=False))


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    return study.best_trial
