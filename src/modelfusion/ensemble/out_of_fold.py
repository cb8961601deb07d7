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


def out_of_fold_outputs(
    member: Any,
    X: Any,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    output: Output,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Rows of `output(member fitted without that row, X[row])`, in the order of X."""
    n = len(y)
    if is_frozen(member):
        return output(member, X)
    (X,) = indexable(X)
    result = None
    for train, test in splits:
        sw = None if sample_weight is None else sample_weight[train]
        fitted = fit_member(member, _safe_indexing(X, train), y[train], sw)
        block = output(fitted, _safe_indexing(X, test))
        if result is None:
            result = np.zeros((n, block.shape[1]))
        result[test] = block
    return result
