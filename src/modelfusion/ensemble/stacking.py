"""Stacking: a scikit-learn meta-learner trained on the members' out-of-fold outputs."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import check_cv
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from modelfusion.ensemble.base import MemberEnsemble
from modelfusion.ensemble.members import class_positions
from modelfusion.ensemble.stack_features import StackFeatures, fit_final_estimator

STACK_METHODS = ("auto", "predict_proba", "decision_function", "predict")


class StackingEnsemble(ClassifierMixin, TransformerMixin, MemberEnsemble):
    """Stacked generalisation (Wolpert 1992): y = g(f_1(x), ..., f_m(x)[, x]) with g = `final_estimator`.

    cv=k (default 5, stratified) trains g on out-of-fold member outputs: the output for row j comes from a member
    fitted without row j, so g learns how much to trust each member on unseen data; members are then refitted on all
    rows for prediction. cv='prefit' uses the given fitted members and trains g on their outputs on the same rows:
    RISKY - if a member saw those rows in training, its outputs there are over-confident and g over-trusts it.
    Frozen members are never refitted in either mode.

    Features per member ('auto' = predict_proba, else decision_function, else predict): probabilities aligned to the
    member's classes (the first column dropped when there are 2, as scikit-learn does), decision values, or one-hot
    predicted labels. `passthrough=True` appends the raw (numeric) features of X.

    Members' parameters are nested as in scikit-learn (`set_params(lr__C=0.1)`; the meta-learner's as
    `final_estimator__C`). `n_jobs` fits members and their cross-validation folds in parallel (joblib) and computes
    member outputs in parallel threads; results do not depend on it.
    """

    def __init__(
        self,
        estimators: Any,
        final_estimator: Any = None,
        *,
        cv: Any = 5,
        stack_method: str = "auto",
        passthrough: bool = False,
        n_jobs: Any = None,
    ) -> None:
        self.estimators = estimators
        self.final_estimator = final_estimator
        self.cv = cv
        self.stack_method = stack_method
        self.passthrough = passthrough
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> StackingEnsemble:
        if self.stack_method not in STACK_METHODS:
            raise ValueError(f"stack_method must be one of {STACK_METHODS}, got {self.stack_method!r}")
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.classes_ = LabelEncoder().fit(y).classes_
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        splits = None
        if self.cv != "prefit":
            splits = list(check_cv(self.cv, y, classifier=True).split(X, y))
        self._check_members()
        self.stack_ = StackFeatures(
            self.estimators, self.stack_method, self.passthrough, classifier=True, n_jobs=self.n_jobs
        )
        X_meta = self.stack_.fit(X, y, self.classes_, splits, sw)
        self.estimators_ = self.stack_.estimators_
        self.named_estimators_ = self.stack_.named_estimators_
        final = LogisticRegression() if self.final_estimator is None else self.final_estimator
        self.final_estimator_ = fit_final_estimator(final, X_meta, y, sw)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """The meta-features the final estimator sees for X (member outputs [+ X])."""
        check_is_fitted(self, "stack_")
        return self.stack_.transform(X)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "final_estimator_")
        return self.final_estimator_.predict(self.transform(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """The final estimator's probabilities, columns aligned to `classes_`."""
        check_is_fitted(self, "final_estimator_")
        proba = self.final_estimator_.predict_proba(self.transform(X))
        out = np.zeros((proba.shape[0], len(self.classes_)))
        out[:, class_positions(self.final_estimator_.classes_, self.classes_, "final_estimator")] = proba
        return out

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "final_estimator_")
        return self.final_estimator_.decision_function(self.transform(X))

    def member_weights(self) -> dict[str, float]:
        """Share of each member in the meta-learner: sum |coef| (or feature_importances_) over the member's
        feature columns, divided by the total over all member columns (passthrough columns excluded)."""
        check_is_fitted(self, "final_estimator_")
        return self.stack_.member_shares(self.final_estimator_)
