"""Output-space ensembles with scikit-learn conventions (needs the `ensemble` extra; LM parts need `hf`).

Members: any scikit-learn estimator (trainable, or `freeze(fitted)`), `TorchModuleClassifier` (pretrained nn.Module),
`HFTextClassifier` (Hugging Face sequence-classification folder), `CallableClassifier` (a function).
Combiners: `VotingEnsemble` (hard / soft / logit), `StackingEnsemble`, `AveragingEnsembleRegressor`,
`StackingEnsembleRegressor`. Trainable torch nets for Bagging / AdaBoost: `TorchNetClassifier`, `TorchNetRegressor`.
Language models: `LogitEnsemble`. Report: `contribution_report`. Save / load a fitted ensemble without pickle:
`persist.dump_ensemble` / `persist.load_ensemble` (skops, checked types; the CLI's `ensemble fit` / `predict`).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "freeze": "frozen",
    "is_frozen": "frozen",
    "TorchModuleClassifier": "torch_member",
    "TorchModuleRegressor": "torch_member",
    "HFTextClassifier": "hf_member",
    "CallableClassifier": "callable_member",
    "CallableRegressor": "callable_member",
    "VotingEnsemble": "voting",
    "StackingEnsemble": "stacking",
    "AveragingEnsembleRegressor": "regression",
    "StackingEnsembleRegressor": "regression",
    "TorchNetClassifier": "torch_net",
    "TorchNetRegressor": "torch_net",
    "LogitEnsemble": "logit_ensemble",
    "contribution_report": "report",
    "ContributionReport": "report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'modelfusion.ensemble' has no attribute {name!r}")
    return getattr(importlib.import_module(f"modelfusion.ensemble.{_EXPORTS[name]}"), name)
