"""A pretrained PyTorch `nn.Module` as a frozen scikit-learn classifier or regressor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from modelfusion.ensemble.frozen import FrozenClassifier, FrozenRegressor, log_softmax

OUTPUTS = ("logits", "proba", "log_proba")


def run_module(
    module: torch.nn.Module,
    X: Any,
    predict_fn: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor] | None,
    batch_size: int,
    device: str,
) -> np.ndarray:
    """Batched inference: predict_fn(module, x) (default module(x)) under no_grad and eval mode, restored after."""
    x_all = torch.as_tensor(np.asarray(X, dtype=np.float32))
    was_training = module.training
    module.eval()
    outs = []
    try:
        with torch.no_grad():
            for start in range(0, len(x_all), batch_size):
                x = x_all[start : start + batch_size].to(device)
                out = predict_fn(module, x) if predict_fn is not None else module(x)
                outs.append(out.detach().to("cpu", torch.float64))
    finally:
        module.train(was_training)
    return torch.cat(outs).numpy() if outs else np.zeros((0,))


class TorchModuleClassifier(FrozenClassifier):
    """Frozen classifier around a pretrained `nn.Module`.

    `predict_fn(module, x) -> tensor (n, n_classes)` (default `module(x)`) returns `output`: 'logits'
    (log p = log_softmax(z)), 'proba' or 'log_proba'. `classes` labels the output columns in order.
    The module is shared, never copied: `clone` returns this same member.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        classes: Any,
        predict_fn: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor] | None = None,
        output: str = "logits",
        batch_size: int = 256,
        device: str = "cpu",
    ) -> None:
        self.module = module
        self.classes = classes
        self.predict_fn = predict_fn
        self.output = output
        self.batch_size = batch_size
        self.device = device

    def predict_log_proba(self, X: Any) -> np.ndarray:
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {self.output!r}")
        out = run_module(self.module, X, self.predict_fn, self.batch_size, self.device)
        if out.ndim != 2 or out.shape[1] != len(self.classes_):
            raise ValueError(f"module returned shape {out.shape}, expected (n, {len(self.classes_)}) (one per class)")
        if self.output == "logits":
            return log_softmax(out)
        if self.output == "proba":
            return np.log(np.clip(out, 1e-300, None))
        return out


class TorchModuleRegressor(FrozenRegressor):
    """Frozen regressor around a pretrained `nn.Module`: predict = predict_fn(module, x) flattened to (n,)."""

    def __init__(
        self,
        module: torch.nn.Module,
        predict_fn: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor] | None = None,
        batch_size: int = 256,
        device: str = "cpu",
    ) -> None:
        self.module = module
        self.predict_fn = predict_fn
        self.batch_size = batch_size
        self.device = device

    def predict(self, X: Any) -> np.ndarray:
        return run_module(self.module, X, self.predict_fn, self.batch_size, self.device).reshape(len(X), -1)[:, 0]
