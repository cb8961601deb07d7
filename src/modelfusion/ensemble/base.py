"""What every ensemble here shares: nested parameters, member validation, weights, fitting members, `n_features_in_`.

Parameters follow scikit-learn's own heterogeneous ensembles (`VotingClassifier`, `StackingClassifier`): we reuse
their base class, so `get_params(deep=True)` lists each member and its parameters as `name__param`,
`set_params(lr__C=0.1)` reaches into a member, `set_params(lr=other)` replaces it and `set_params(lr="drop")` leaves
it out; `GridSearchCV` can therefore tune members.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble._base import _BaseHeterogeneousEnsemble
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from modelfusion.ensemble.members import check_members, fit_members, is_drop


class MemberEnsemble(_BaseHeterogeneousEnsemble):
    """Base of the ensembles: `estimators` is a list of (name, member); fitted members are in `estimators_`."""

    def _check_members(self) -> tuple[list[str], list[Any]]:
        """Names and members that are not dropped; names must not clash with parameters or contain '__'."""
        names, members = check_members(self.estimators)
        self._validate_names([n for n, _ in self.estimators])
        return names, members

    def _fit_members(self, X: Any, y: Any, sample_weight: Any = None) -> None:
        names, members = self._check_members()
        self.estimators_ = fit_members(members, X, y, sample_weight, getattr(self, "n_jobs", None))
        self.named_estimators_ = Bunch(**dict(zip(names, self.estimators_)))
        first = self.estimators_[0]
        if hasattr(first, "feature_names_in_"):
            self.feature_names_in_ = first.feature_names_in_

    @property
    def member_names_(self) -> list[str]:
        check_is_fitted(self, "estimators_")
        return list(self.named_estimators_.keys())

    @property
    def n_features_in_(self) -> int:
        """Number of input features, as seen by the first member (text members have none)."""
        try:
            check_is_fitted(self, "estimators_")
        except Exception as e:
            raise AttributeError(f"{type(self).__name__} is not fitted yet, so has no n_features_in_") from e
        return self.estimators_[0].n_features_in_

    def _weights(self) -> np.ndarray:
        """Weights w_i >= 0 (default all 1) of the members that are not dropped (for combiners with `weights`)."""
        n = len(self.estimators)
        if self.weights is None:
            w = np.ones(n)
        else:
            w = np.asarray(self.weights, dtype=np.float64)
            if w.shape != (n,):
                raise ValueError(f"got {w.size} weights for {n} estimators; give one weight per estimator")
        w = w[[not is_drop(m) for _, m in self.estimators]]
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError(f"weights must be finite, >= 0 and not all 0, got {w.tolist()}")
        return w

    def member_weights(self) -> dict[str, float]:
        """Each member's share of the total weight, w_i / sum_j w_j."""
        w = self._weights()
        return {n: float(wi / w.sum()) for n, wi in zip(self.member_names_, w)}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            from sklearn.utils import get_tags

            _, members = check_members(self.estimators)
            tags.input_tags.allow_nan = all(get_tags(m).input_tags.allow_nan for m in members)
            tags.input_tags.sparse = all(get_tags(m).input_tags.sparse for m in members)
        except (TypeError, ValueError):
            pass
        return tags
