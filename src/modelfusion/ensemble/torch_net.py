"""A small PyTorch network as a first-class scikit-learn estimator (so BaggingClassifier / AdaBoostClassifier can
clone, fit and weight it like a tree).

Training minimises the sample-weighted mean loss  L = sum_i w_i l(f(x_i), y_i) / sum_i w_i  with Adam, full-batch by
default (deterministic: fitting with integer weights equals fitting on rows repeated that many times, which is what
AdaBoost's reweighting and bagging's bootstrap counts rely on). Inputs (and regression targets) are standardised
with the sample-weighted mean and standard deviation. Computation is float64 on CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data


def mlp(n_in: int, hidden: tuple[int, ...], n_out: int) -> torch.nn.Module:
    """Linear -> ReLU -> ... -> Linear."""
    layers: list[torch.nn.Module] = []
    for h in hidden:
        layers += [torch.nn.Linear(n_in, h), torch.nn.ReLU()]
        n_in = h
    layers.append(torch.nn.Linear(n_in, n_out))
    return torch.nn.Sequential(*layers)


def weighted_moments(X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and standard deviation per column (std 0 -> 1, so constant columns pass through)."""
    mean = np.average(X, axis=0, weights=w)
    std = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=w))
    return mean, np.where(std > 1e-12, std, 1.0)


class _TorchNet(BaseEstimator):
    """Shared training loop; subclasses define the loss, the output size and the target encoding."""

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (64,),
        module: Callable[[int, int], torch.nn.Module] | None = None,
        epochs: int = 200,
        lr: float = 0.01,
        weight_decay: float = 1e-4,
        batch_size: int | None = None,
        random_state: Any = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.module = module
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.random_state = random_state

    def _build(self, n_in: int, n_out: int) -> torch.nn.Module:
        if self.module is not None:
            return self.module(n_in, n_out)
        return mlp(n_in, tuple(self.hidden_layer_sizes), n_out)

    def _train(self, X: np.ndarray, target: torch.Tensor, w: np.ndarray, n_out: int) -> None:
        if self.epochs < 1 or self.lr <= 0:
            raise ValueError(f"epochs must be >= 1 and lr > 0, got epochs={self.epochs}, lr={self.lr}")
        if w.sum() <= 0:
            raise ValueError("sample weights sum to zero: nothing to fit")
        self.x_mean_, self.x_scale_ = weighted_moments(X, w)
        x = torch.as_tensor((X - self.x_mean_) / self.x_scale_, dtype=torch.float64)
        wt = torch.as_tensor(w * len(w) / w.sum(), dtype=torch.float64)  # mean 1: loss = sum w l / sum w
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = self._build(X.shape[1], n_out).double()
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        n = len(x)
        bs = n if self.batch_size is None else max(1, min(int(self.batch_size), n))
        self.loss_curve_ = []
        net.train()
        for _ in range(self.epochs):
            order = torch.arange(n) if bs == n else torch.randperm(n, generator=gen)
            total = 0.0
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                per_sample = self._loss(net(x[idx]), target[idx])
                loss = (wt[idx] * per_sample).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            self.loss_curve_.append(total / n)
        net.eval()
        self.module_ = net
        self.n_iter_ = self.epochs

    def __getstate__(self) -> dict[str, Any]:
        """The built-in MLP is stored as its layer sizes and a state dict of numpy arrays (no torch objects), so a
        fitted net can be saved with skops; a custom `module` factory keeps its module as is."""
        state = super().__getstate__()
        if self.module is None and isinstance(state.get("module_"), torch.nn.Module):
            weights = state["module_"].state_dict()
            state = {**state, "module_": {k: v.detach().cpu().numpy() for k, v in weights.items()}}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        weights = state.get("module_")
        if isinstance(weights, dict):
            sizes = [int(weights[k].shape[0]) for k in weights if k.endswith(".weight")]
            net = mlp(int(state["n_features_in_"]), tuple(sizes[:-1]), sizes[-1]).double()
            net.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float64)) for k, v in weights.items()})
            state = {**state, "module_": net.eval()}
        super().__setstate__(state)

    def _forward(self, X: Any) -> torch.Tensor:
        check_is_fitted(self, "module_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with torch.no_grad():
            return self.module_(torch.as_tensor((X - self.x_mean_) / self.x_scale_, dtype=torch.float64))


class TorchNetClassifier(ClassifierMixin, _TorchNet):
    """An MLP (or `module(n_features, n_classes)`) trained with sample-weighted cross-entropy.

    p(c|x) = softmax(f(x))_c; predict_proba columns follow `classes_`.
    """

    @staticmethod
    def _loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(out, target, reduction="none")

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> TorchNetClassifier:
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        enc = LabelEncoder().fit(y)
        self.classes_ = enc.classes_
        w = _check_sample_weight(sample_weight, X, dtype=np.float64)
        target = torch.as_tensor(enc.transform(y), dtype=torch.long)
        self._train(X, target, w, len(self.classes_))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return torch.softmax(self._forward(X), dim=1).numpy()

    def predict_log_proba(self, X: Any) -> np.ndarray:
        return torch.log_softmax(self._forward(X), dim=1).numpy()

    def predict(self, X: Any) -> np.ndarray:
        scores = self._forward(X).numpy()
        return self.classes_[np.argmax(scores, axis=1)]


class TorchNetRegressor(RegressorMixin, _TorchNet):
    """An MLP (or `module(n_features, 1)`) trained with sample-weighted squared error on the standardised target."""

    @staticmethod
    def _loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (out[:, 0] - target) ** 2

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> TorchNetRegressor:
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        w = _check_sample_weight(sample_weight, X, dtype=np.float64)
        self.y_mean_, y_scale = weighted_moments(y.reshape(-1, 1), w)
        self.y_mean_, self.y_scale_ = float(self.y_mean_[0]), float(y_scale[0])
        target = torch.as_tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float64)
        self._train(X, target, w, 1)
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self._forward(X).numpy()[:, 0] * self.y_scale_ + self.y_mean_
