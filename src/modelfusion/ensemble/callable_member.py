"""A plain Python function as a frozen classifier or regressor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from modelfusion.ensemble.frozen import FrozenClassifier, FrozenRegressor, log_softmax

CALLABLE_OUTPUTS = ("proba", "logits", "log_proba", "labels")


class CallableClassifier(FrozenClassifier):
    """Frozen classifier from `fn(X) -> array`.

    `output`: 'proba' / 'logits' / 'log_proba' (shape (n, len(classes)), columns in `classes` order) or 'labels'
    (shape (n,), each a member of `classes`; probabilities are then one-hot, so only hard voting and
    stacking on labels are meaningful).
    """

    def __init__(self, fn: Callable[[Any], Any], classes: Any, output: str = "proba") -> None:
        self.fn = fn
        self.classes = classes
        self.output = output

    def _raw(self, X: Any) -> np.ndarray:
        if self.output not in CALLABLE_OUTPUTS:
            raise ValueError(f"output must be one of {CALLABLE_OUTPUTS}, got {self.output!r}")
        return np.asarray(self.fn(X))

    def predict(self, X: Any) -> np.ndarray:
        if self.output == "labels":
            return self._raw(X)
        return super().predict(X)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        out = self._raw(X)
        if self.output == "labels":
            onehot = (out[:, None] == self.classes_[None, :]).astype(np.float64)
            if not onehot.any(axis=1).all():
                raise ValueError(f"callable returned labels outside classes {list(self.classes_)}")
            return np.log(np.clip(onehot, 1e-300, None))
        out = out.astype(np.float64)
        if out.ndim != 2 or out.shape[1] != len(self.classes_):
            raise ValueError(f"callable returned shape {out.shape}, expected (n, {len(self.classes_)})")
        if self.output == "logits":
            return log_softmax(out)
        if self.output == "proba":
            return np.log(np.clip(out, 1e-300, None))
        return out


class CallableRegressor(FrozenRegressor):
    """Frozen regressor from `fn(X) -> array of shape (n,)`."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.fn(X), dtype=np.float64).reshape(-1)
