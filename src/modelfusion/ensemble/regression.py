"""Regression ensembles: weighted averaging and stacking of regressors."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin, TransformerMixin
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import check_cv
from sklearn.utils.validation import check_is_fitted, column_or_1d

from modelfusion.ensemble.base import MemberEnsemble
from modelfusion.ensemble.members import map_members
from modelfusion.ensemble.stack_features import StackFeatures, fit_final_estimator


class AveragingEnsembleRegressor(RegressorMixin, MemberEnsemble):
    """y = sum_i w_i f_i(x) / sum_i w_i (weights default to 1). Trainable members are cloned and fitted.

    Nested parameters (`set_params(ridge__alpha=1.0)`) and `n_jobs` as in `VotingEnsemble`."""

    def __init__(self, estimators: Any, *, weights: Any = None, n_jobs: Any = None) -> None:
        self.estimators = estimators
        self.weights = weights
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> AveragingEnsembleRegressor:
        self._check_members()
        self._weights()
        y = column_or_1d(y, warn=True).astype(np.float64)
        self._fit_members(X, y, sample_weight)
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimators_")
        w = self._weights()
        preds = map_members(
            lambda _, m: np.asarray(m.predict(X), dtype=np.float64).reshape(-1), self.estimators_, self.n_jobs
        )
        return sum(wi * p for wi, p in zip(w, preds)) / w.sum()


class StackingEnsembleRegressor(RegressorMixin, TransformerMixin, MemberEnsemble):
    """y = g(f_1(x), ..., f_m(x)[, x]); g (`final_estimator`, default RidgeCV) is trained on out-of-fold member
    predictions (cv=k, default 5). cv='prefit' trains g on in-sample predictions of fitted members: RISKY (see
    `StackingEnsemble`). Nested parameters and `n_jobs` as in `StackingEnsemble`."""

    def __init__(
        self,
        estimators: Any,
        final_estimator: Any = None,
        *,
        cv: Any = 5,
        passthrough: bool = False,
        n_jobs: Any = None,
    ) -> None:
        self.estimators = estimators
        self.final_estimator = final_estimator
        self.cv = cv
        self.passthrough = passthrough
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> StackingEnsembleRegressor:
        y = column_or_1d(y, warn=True).astype(np.float64)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        splits = None if self.cv == "prefit" else list(check_cv(self.cv, y, classifier=False).split(X, y))
        self._check_members()
        self.stack_ = StackFeatures(self.estimators, "predict", self.passthrough, classifier=False, n_jobs=self.n_jobs)
        X_meta = self.stack_.fit(X, y, None, splits, sw)
        self.estimators_ = self.stack_.estimators_
        self.named_estimators_ = self.stack_.named_estimators_
        final = RidgeCV() if self.final_estimator is None else self.final_estimator
        self.final_estimator_ = fit_final_estimator(final, X_meta, y, sw)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "stack_")
        return self.stack_.transform(X)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "final_estimator_")
        return self.final_estimator_.predict(self.transform(X))

    def member_weights(self) -> dict[str, float]:
        check_is_fitted(self, "final_estimator_")
        return self.stack_.member_shares(self.final_estimator_)
