"""What every ensemble here shares: member validation, weights, fitting members, `n_features_in_`."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from modelfusion.ensemble.members import check_members, fit_member


class MemberEnsemble(BaseEstimator):
    """Base of the ensembles: `estimators` is a list of (name, member); fitted members are in `estimators_`."""

    def _fit_members(self, X: Any, y: Any, sample_weight: Any = None) -> None:
        names, members = check_members(self.estimators)
        self.estimators_ = [fit_member(m, X, y, sample_weight) for m in members]
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
        """Member weights w_i >= 0 (default all 1), one per member (for the combiners that have `weights`)."""
        n = len(self.estimators)
        if self.weights is None:
            return np.ones(n)
        w = np.asarray(self.weights, dtype=np.float64)
        if w.shape != (n,):
            raise ValueError(f"got {w.size} weights for {n} estimators; give one weight per estimator")
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError(f"weights must be finite, >= 0 and not all 0, got {w.tolist()}")
        return w

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
