"""The meta-features of stacking: each member's outputs side by side (out-of-fold at fit time), optionally + X."""

from __future__ import annotations

import functools
import itertools
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.utils import Bunch
from sklearn.utils.validation import check_array, check_is_fitted

from modelfusion.ensemble.frozen import is_frozen
from modelfusion.ensemble.members import check_members, class_positions, fit_members, map_members
from modelfusion.ensemble.out_of_fold import check_partition, out_of_fold_outputs


def fit_final_estimator(final: Any, X_meta: np.ndarray, y: Any, sample_weight: Any) -> Any:
    """A fitted clone of the final estimator on the meta-features (sample weights passed only when given)."""
    fitted = clone(final)
    if sample_weight is None:
        fitted.fit(X_meta, y)
    else:
        fitted.fit(X_meta, y, sample_weight=sample_weight)
    return fitted


def pick_method(name: str, member: Any, stack_method: str, classifier: bool) -> str:
    """'auto' -> predict_proba, else decision_function, else predict (regressors: predict)."""
    if not classifier:
        return "predict"
    order = ["predict_proba", "decision_function", "predict"] if stack_method == "auto" else [stack_method]
    for method in order:
        if hasattr(member, method):
            return method
    raise ValueError(f"member {name!r} has no {' / '.join(order)}")


def member_output(
    member: Any, X: Any, *, name: str, method: str, classifier: bool, labels: np.ndarray | None
) -> np.ndarray:
    """One member's block of meta-features: probabilities aligned to `labels` (first column dropped for 2 labels,
    as scikit-learn does), decision values, one-hot predicted labels, or (regression) the prediction."""
    if not classifier:
        return np.asarray(member.predict(X), dtype=np.float64).reshape(-1, 1)
    if method == "predict_proba":
        proba = np.asarray(member.predict_proba(X), dtype=np.float64)
        out = np.zeros((proba.shape[0], len(labels)))
        out[:, class_positions(member.classes_, labels, name)] = proba
        return out[:, 1:] if len(labels) == 2 else out
    if method == "decision_function":
        d = np.asarray(member.decision_function(X), dtype=np.float64)
        return d.reshape(-1, 1) if d.ndim == 1 else d
    return np.eye(len(labels))[class_positions(member.predict(X), labels, name)]


class StackFeatures:
    """Computes [f_1(x) | ... | f_m(x) | x]; remembers which columns belong to which member.

    Its fitted state is plain data (names, method names, label arrays, widths), so a fitted ensemble can be stored
    with skops without storing any function."""

    def __init__(
        self, estimators: Any, stack_method: str, passthrough: bool, classifier: bool, n_jobs: Any = None
    ) -> None:
        self.estimators = estimators
        self.stack_method = stack_method
        self.passthrough = passthrough
        self.classifier = classifier
        self.n_jobs = n_jobs

    def _output(self, i: int) -> Any:
        """The output function of member i: (member, X) -> its block of meta-features."""
        return functools.partial(
            member_output,
            name=self.names_[i],
            method=self.methods_[i],
            classifier=self.classifier,
            labels=self.labels_[i],
        )

    def fit(
        self,
        X: Any,
        y: np.ndarray,
        classes: np.ndarray | None,
        splits: list[tuple[np.ndarray, np.ndarray]] | None,
        sample_weight: np.ndarray | None,
    ) -> np.ndarray:
        """Fit (or check, when splits is None = prefit) the members; return the training meta-features."""
        self.classes = classes
        names, members = check_members(self.estimators)
        self.names_ = names
        self.methods_ = [pick_method(n, m, self.stack_method, self.classifier) for n, m in zip(names, members)]
        self.labels_ = [np.asarray(m.classes_) if (self.classifier and is_frozen(m)) else classes for m in members]
        if splits is None:
            for name, member in zip(names, members):
                try:
                    check_is_fitted(member)
                except Exception as e:
                    raise ValueError(f"cv='prefit' needs fitted members; {name!r} is not fitted") from e
            self.estimators_ = list(members)
            blocks = self._blocks(X)
        else:
            check_partition(splits, len(y))
            blocks = [
                out_of_fold_outputs(m, X, y, splits, self._output(i), sample_weight, self.n_jobs)
                for i, m in enumerate(members)
            ]
            self.estimators_ = fit_members(members, X, y, sample_weight, self.n_jobs)
        self.named_estimators_ = Bunch(**dict(zip(names, self.estimators_)))
        return self._assemble(blocks, X, fitting=True)

    def _blocks(self, X: Any) -> list[np.ndarray]:
        return map_members(lambda i, m: self._output(i)(m, X), self.estimators_, self.n_jobs)

    def transform(self, X: Any) -> np.ndarray:
        return self._assemble(self._blocks(X), X, fitting=False)

    def _assemble(self, blocks: list[np.ndarray], X: Any, fitting: bool) -> np.ndarray:
        if fitting:
            self.widths_ = [b.shape[1] for b in blocks]
        elif [b.shape[1] for b in blocks] != self.widths_:
            widths = [b.shape[1] for b in blocks]
            raise ValueError(f"member outputs changed width since fit: {widths} != {self.widths_}")
        if self.passthrough:
            blocks = [*blocks, check_array(X, dtype=np.float64, ensure_all_finite="allow-nan")]
        return np.hstack(blocks)

    def member_shares(self, final_estimator: Any) -> dict[str, float]:
        """sum |coef| (or feature_importances_) over each member's columns / total over member columns."""
        if hasattr(final_estimator, "coef_"):
            importance = np.abs(np.atleast_2d(final_estimator.coef_)).sum(axis=0)
        elif hasattr(final_estimator, "feature_importances_"):
            importance = np.asarray(final_estimator.feature_importances_, dtype=np.float64)
        else:
            raise ValueError(f"{type(final_estimator).__name__} has neither coef_ nor feature_importances_")
        edges = np.cumsum([0, *self.widths_])
        per_member = np.asarray([importance[a:b].sum() for a, b in itertools.pairwise(edges)])
        total = per_member.sum()
        shares = per_member / total if total > 0 else np.full(len(per_member), 1.0 / len(per_member))
        return {n: float(s) for n, s in zip(self.named_estimators_.keys(), shares)}
