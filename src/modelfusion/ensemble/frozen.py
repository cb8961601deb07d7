"""Frozen (pretrained) members: never refitted, never copied by `sklearn.clone`.

A frozen member's `fit` is a no-op and `__sklearn_clone__` returns the member itself, so cloning an ensemble for
each cross-validation fold shares one model object instead of deep-copying a multi-GB network per fold.
Fitted scikit-learn estimators are frozen with scikit-learn's own `FrozenEstimator` (see `freeze`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.frozen import FrozenEstimator


def freeze(estimator: Any) -> Any:
    """Wrap a fitted scikit-learn estimator so ensembles use it as is (scikit-learn's `FrozenEstimator`)."""
    if is_frozen(estimator):
        return estimator
    return FrozenEstimator(estimator)


def is_frozen(estimator: Any) -> bool:
    """True when `estimator` is pretrained: `clone` returns the same object and `fit` changes nothing."""
    return isinstance(estimator, (FrozenEstimator, FrozenMember))


class FrozenMember(BaseEstimator):
    """Base of pretrained members: `fit` is a no-op, `clone` returns `self`, the member is always 'fitted'."""

    def __sklearn_clone__(self) -> FrozenMember:
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X: Any = None, y: Any = None, **fit_params: Any) -> FrozenMember:
        """No-op: a pretrained member is never refitted."""
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags._skip_test = True  # not trainable: scikit-learn's fit/refit checks do not apply
        tags.input_tags.two_d_array = False
        return tags


class FrozenClassifier(ClassifierMixin, FrozenMember):
    """A pretrained classifier. Subclasses implement `predict_log_proba`; `classes_` comes from the params."""

    @property
    def classes_(self) -> np.ndarray:
        if getattr(self, "classes", None) is None:
            raise AttributeError(f"{type(self).__name__} needs `classes` (the label of each output column)")
        return np.asarray(self.classes)

    def predict_log_proba(self, X: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict_proba(self, X: Any) -> np.ndarray:
        """softmax of the member's log-probabilities; columns follow `classes_`."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_log_proba(X), axis=1)]


class FrozenRegressor(RegressorMixin, FrozenMember):
    """A pretrained regressor (subclasses implement `predict`)."""


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log softmax(z)_k = z_k - logsumexp(z), computed stably in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
