"""Voting and probability / logit averaging of classifiers."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._available_if import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from modelfusion.ensemble.base import MemberEnsemble
from modelfusion.ensemble.members import (
    aligned_log_proba,
    aligned_proba,
    ensemble_classes,
    map_members,
    predicted_index,
)

VOTING = ("hard", "soft", "logit")


class VotingEnsemble(ClassifierMixin, MemberEnsemble):
    """Combine classifiers by their outputs, with member weights w_i (default 1).

    - voting='soft':  p(c|x) = sum_i w_i p_i(c|x) / sum_i w_i  (probability averaging)
    - voting='logit': p(c|x) = softmax_c( sum_i w_i log p_i(c|x) / sum_i w_i )  (logit averaging: per-row constants
      of each member's logits cancel in the softmax, so this equals averaging raw logits; a weighted geometric mean)
    - voting='hard':  y = argmax_c sum_i w_i [pred_i(x) = c]  (ties go to the first class in `classes_`)

    Trainable members are cloned and fitted on (X, y); frozen members (see `freeze`, `HFTextClassifier`,
    `TorchModuleClassifier`, `CallableClassifier`) are used as they are. Member outputs are aligned to `classes_`
    by label, so members may order or cover their classes differently.

    Members' parameters are nested as in scikit-learn (`set_params(lr__C=0.1)`, `GridSearchCV` over `lr__C`).
    `n_jobs` fits the trainable members in parallel (joblib processes) and runs the members' predictions in
    parallel threads; results do not depend on it. With voting='hard' there is no `predict_proba` (as
    scikit-learn's `VotingClassifier`): `hasattr(ensemble, "predict_proba")` is False.
    """

    def __init__(self, estimators: Any, *, voting: str = "soft", weights: Any = None, n_jobs: Any = None) -> None:
        self.estimators = estimators
        self.voting = voting
        self.weights = weights
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> VotingEnsemble:
        if self.voting not in VOTING:
            raise ValueError(f"voting must be one of {VOTING}, got {self.voting!r}")
        self._check_members()
        self._weights()
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self._fit_members(X, y, sample_weight)
        self.classes_ = ensemble_classes(LabelEncoder().fit(y).classes_, self.estimators_)
        return self

    def _member_outputs(self, output: Any, X: Any) -> list[np.ndarray]:
        """output(member, X, classes_, name) for each fitted member, in parallel threads when n_jobs > 1."""
        check_is_fitted(self, "estimators_")
        names = list(self.named_estimators_.keys())
        return map_members(lambda i, m: output(m, X, self.classes_, names[i]), self.estimators_, self.n_jobs)

    def _check_soft(self) -> bool:
        if self.voting == "hard":
            raise AttributeError(f"predict_proba is not available when voting={self.voting!r}")
        return True

    @available_if(_check_soft)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Weighted mean of member probabilities ('soft') or softmax of the weighted mean log-probabilities
        ('logit'). Columns follow `classes_`. Not available with voting='hard'."""
        w = self._weights()
        if self.voting == "soft":
            return sum(wi * p for wi, p in zip(w, self._member_outputs(aligned_proba, X))) / w.sum()
        z = sum(wi * lp for wi, lp in zip(w, self._member_outputs(aligned_log_proba, X))) / w.sum()
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def _vote_counts(self, X: Any, w: np.ndarray) -> np.ndarray:
        counts = None
        for wi, idx in zip(w, self._member_outputs(predicted_index, X)):
            if counts is None:
                counts = np.zeros((len(idx), len(self.classes_)))
            counts[np.arange(len(idx)), idx] += wi
        return counts

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimators_")
        if self.voting == "hard":
            return self.classes_[np.argmax(self._vote_counts(X, self._weights()), axis=1)]
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
