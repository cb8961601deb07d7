"""Out-of-fold member outputs: the features a stacking meta-learner is trained on.

For k folds, the output for each training row comes from a clone of the member fitted on the other k-1 folds, so
the meta-learner never sees a prediction made by a model that trained on that row. Frozen members were not trained
on these rows at all, so their output is computed once on all rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import indexable

from modelfusion.ensemble.frozen import is_frozen
from modelfusion.ensemble.members import fit_member

Output = Callable[[Any, Any], np.ndarray]  # (fitted member, X) -> 2-d features


def check_partition(splits: list[tuple[np.ndarray, np.ndarray]], n_samples: int) -> None:
    """Every row must be in exactly one test fold (as for `cross_val_predict`)."""
    counts = np.bincount(np.concatenate([test for _, test in splits]), minlength=n_samples)
    if not (counts == 1).all():
        raise ValueError("cv must put every sample in exactly one test fold (a partition, e.g. KFold)")


def fold_output(
    member: Any, X: Any, y: np.ndarray, train: np.ndarray, test: np.ndarray, output: Output, sample_weight: Any
) -> np.ndarray:
    """output(member fitted on the `train` rows, X[test])."""
    sw = None if sample_weight is None else sample_weight[train]
    fitted = fit_member(member, _safe_indexing(X, train), y[train], sw)
    return output(fitted, _safe_indexing(X, test))


def out_of_fold_outputs(
    member: Any,
    X: Any,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    output: Output,
    sample_weight: np.ndarray | None = None,
    n_jobs: Any = None,
) -> np.ndarray:
    """Rows of `output(member fitted without that row, X[row])`, in the order of X (folds fitted in parallel with
    joblib when n_jobs > 1, as `cross_val_predict` does)."""
    from sklearn.utils.parallel import Parallel, delayed

    n = len(y)
    if is_frozen(member):
        return output(member, X)
    (X,) = indexable(X)
    jobs = (delayed(fold_output)(member, X, y, train, test, output, sample_weight) for train, test in splits)
    blocks = Parallel(n_jobs=n_jobs)(jobs)
    result = np.zeros((n, blocks[0].shape[1]))
    for (_, test), block in zip(splits, blocks):
        result[test] = block
    return result
