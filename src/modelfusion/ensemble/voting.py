"""Voting and probability / logit averaging of classifiers."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from modelfusion.ensemble.base import MemberEnsemble
from modelfusion.ensemble.members import aligned_log_proba, aligned_proba, ensemble_classes, predicted_index

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
    """

    def __init__(self, estimators: Any, *, voting: str = "soft", weights: Any = None) -> None:
        self.estimators = estimators
        self.voting = voting
        self.weights = weights

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> VotingEnsemble:
        if self.voting not in VOTING:
            raise ValueError(f"voting must be one of {VOTING}, got {self.voting!r}")
        self._weights()
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self._fit_members(X, y, sample_weight)
        self.classes_ = ensemble_classes(LabelEncoder().fit(y).classes_, self.estimators_)
        return self

    def _members(self):
        check_is_fitted(self, "estimators_")
        return zip(self.named_estimators_.keys(), self.estimators_)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Weighted mean of member probabilities ('soft'), softmax of weighted mean log-probabilities ('logit'),
        or the normalised weighted vote counts ('hard'). Columns follow `classes_`."""
        check_is_fitted(self, "estimators_")
        w = self._weights()
        if self.voting == "hard":
            votes = self._vote_counts(X, w)
            return votes / votes.sum(axis=1, keepdims=True)
        if self.voting == "soft":
            return sum(wi * aligned_proba(m, X, self.classes_, n) for wi, (n, m) in zip(w, self._members())) / w.sum()
        mean_logp = sum(wi * aligned_log_proba(m, X, self.classes_, n) for wi, (n, m) in zip(w, self._members()))
        z = mean_logp / w.sum()
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def _vote_counts(self, X: Any, w: np.ndarray) -> np.ndarray:
        counts = None
        for wi, (name, member) in zip(w, self._members()):
            idx = predicted_index(member, X, self.classes_, name)
            if counts is None:
                counts = np.zeros((len(idx), len(self.classes_)))
            counts[np.arange(len(idx)), idx] += wi
        return counts

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimators_")
        if self.voting == "hard":
            return self.classes_[np.argmax(self._vote_counts(X, self._weights()), axis=1)]
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def member_weights(self) -> dict[str, float]:
        """Each member's share of the total weight, w_i / sum_j w_j."""
        w = self._weights()
        return {n: float(wi / w.sum()) for n, wi in zip(self.member_names_, w)}
