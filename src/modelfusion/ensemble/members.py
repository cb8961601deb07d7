"""Turn what the user passes as a member into a scikit-learn estimator, and read its outputs aligned to classes.

- a scikit-learn estimator: used as is (unfitted ones are cloned and trained by the ensemble;
  wrap a fitted one with `freeze` to keep it as it is);
- a `torch.nn.Module`: needs explicit `TorchModuleClassifier(module, classes)` (the labels are unknown otherwise);
- a path to a Hugging Face folder: `HFTextClassifier(path)`;
- anything else callable: needs explicit `CallableClassifier(fn, classes)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from modelfusion.ensemble.frozen import is_frozen

LOG_FLOOR = np.log(1e-12)  # log-probability given to a class a member cannot predict at all


def as_member(name: str, member: Any) -> Any:
    """Validate one `(name, member)` entry and return a scikit-learn estimator."""
    if isinstance(member, (str, Path)):
        from modelfusion.ensemble.hf_member import HFTextClassifier

        return HFTextClassifier(member)
    if isinstance(member, BaseEstimator) or (hasattr(member, "fit") and hasattr(member, "get_params")):
        return member
    import torch

    if isinstance(member, torch.nn.Module):
        raise TypeError(f"member {name!r} is an nn.Module: wrap it as TorchModuleClassifier(module, classes)")
    if callable(member):
        raise TypeError(f"member {name!r} is a callable: wrap it as CallableClassifier(fn, classes)")
    raise TypeError(f"member {name!r} is a {type(member).__name__}, not an estimator, module, callable or model folder")


def check_members(estimators: Any) -> tuple[list[str], list[Any]]:
    """Validate `estimators` = [(name, member), ...]: non-empty, unique string names. Members set to 'drop'
    (as in scikit-learn: `set_params(name="drop")`) are left out of the returned names and members."""
    if not isinstance(estimators, (list, tuple)) or len(estimators) == 0:
        raise ValueError("'estimators' should be a non-empty list of (name, estimator) tuples")
    names, members = [], []
    for item in estimators:
        if not isinstance(item, (list, tuple)) or len(item) != 2 or not isinstance(item[0], str):
            raise ValueError(f"each entry of 'estimators' must be a (name, estimator) pair, got {item!r}")
        names.append(item[0])
        members.append(item[1])
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"estimator names must be unique, repeated: {dupes}")
    kept = [(n, as_member(n, m)) for n, m in zip(names, members) if not is_drop(m)]
    if not kept:
        raise ValueError("all estimators are dropped; at least one is required")
    return [n for n, _ in kept], [m for _, m in kept]


def is_drop(member: Any) -> bool:
    """True for the string 'drop', scikit-learn's marker of a member left out."""
    return isinstance(member, str) and member == "drop"


def fit_members(members: list[Any], X: Any, y: Any, sample_weight: Any = None, n_jobs: Any = None) -> list[Any]:
    """`fit_member` of each member; the trainable ones in parallel with joblib (`n_jobs` as in scikit-learn).
    Frozen members are returned as they are, never sent to a worker."""
    from sklearn.utils.parallel import Parallel, delayed

    trainable = [i for i, m in enumerate(members) if not is_frozen(m)]
    fitted = list(members)
    jobs = (delayed(fit_member)(members[i], X, y, sample_weight) for i in trainable)
    for i, est in zip(trainable, Parallel(n_jobs=n_jobs)(jobs)):
        fitted[i] = est
    return fitted


def map_members(fn: Any, members: list[Any], n_jobs: Any = None) -> list[Any]:
    """[fn(i, member) for each member], in threads when n_jobs > 1 (members are shared, never copied)."""
    from sklearn.utils.parallel import Parallel, delayed

    return Parallel(n_jobs=n_jobs, prefer="threads")(delayed(fn)(i, m) for i, m in enumerate(members))


def fit_member(member: Any, X: Any, y: Any, sample_weight: Any = None) -> Any:
    """Frozen members are returned unchanged; trainable ones are cloned and fitted (the input is never modified)."""
    from sklearn.base import clone

    if is_frozen(member):
        return member
    est = clone(member)
    if sample_weight is None:
        return est.fit(X, y)
    return est.fit(X, y, sample_weight=sample_weight)


def class_positions(member_classes: Any, classes: np.ndarray, name: str) -> np.ndarray:
    """Index in `classes` of each of the member's classes; an error for a class the ensemble does not know."""
    lookup = {c: i for i, c in enumerate(classes.tolist())}
    try:
        return np.asarray([lookup[c] for c in np.asarray(member_classes).tolist()], dtype=int)
    except KeyError as e:
        raise ValueError(f"member {name!r} predicts class {e.args[0]!r}, not one of {classes.tolist()}") from None


def aligned_proba(member: Any, X: Any, classes: np.ndarray, name: str) -> np.ndarray:
    """p(class | x) from the member with columns in `classes` order (0 for classes it cannot predict)."""
    proba = np.asarray(member.predict_proba(X), dtype=np.float64)
    out = np.zeros((proba.shape[0], len(classes)))
    out[:, class_positions(member.classes_, classes, name)] = proba
    return out


def aligned_log_proba(member: Any, X: Any, classes: np.ndarray, name: str) -> np.ndarray:
    """log p(class | x), columns in `classes` order, floored at log(1e-12) (so one member cannot veto a class)."""
    from modelfusion.ensemble.frozen import FrozenClassifier

    if isinstance(member, FrozenClassifier):  # exact log-softmax of the member's logits
        logp = np.asarray(member.predict_log_proba(X), dtype=np.float64)
    else:
        logp = np.log(np.clip(np.asarray(member.predict_proba(X), dtype=np.float64), 1e-300, None))
    out = np.full((logp.shape[0], len(classes)), LOG_FLOOR)
    out[:, class_positions(member.classes_, classes, name)] = np.maximum(logp, LOG_FLOOR)
    return out


def predicted_index(member: Any, X: Any, classes: np.ndarray, name: str) -> np.ndarray:
    """Index in `classes` of the member's predicted label for each sample."""
    return class_positions(member.predict(X), classes, name)


def ensemble_classes(y_classes: np.ndarray, members: list[Any]) -> np.ndarray:
    """Sorted union of the training labels and the labels frozen members can predict (training labels if none new)."""
    known = set(np.asarray(y_classes).tolist())
    extra = []
    for m in members:
        if is_frozen(m) and hasattr(m, "classes_"):
            extra.extend(c for c in np.asarray(m.classes_).tolist() if c not in known)
    if not extra:
        return np.asarray(y_classes)
    try:
        return np.asarray(sorted(known | set(extra)))
    except TypeError:
        raise ValueError(
            f"frozen members predict labels {sorted(map(str, extra))} of another type than the data's "
            f"{sorted(map(str, known))}; give the members `classes` that match the data"
        ) from None
