"""Cross-validated evaluation: each member's own score next to the ensemble's, per fold, from the same fits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.metrics import get_scorer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils import _safe_indexing

from modelfusion.ensemble.report import disagreement_matrix


@dataclass
class CVResult:
    metric: str
    folds: int
    ensemble_scores: list[float] = field(default_factory=list)
    member_scores: dict[str, list[float]] = field(default_factory=dict)
    member_shares: dict[str, list[float]] = field(default_factory=dict)
    disagreement: list[float] = field(default_factory=list)  # mean pairwise disagreement per fold

    def summary(self) -> dict[str, Any]:
        def stats(v: list[float]) -> dict[str, float]:
            return {"mean": float(np.mean(v)), "std": float(np.std(v))}

        best = max(self.member_scores, key=lambda n: np.mean(self.member_scores[n]))
        return {
            "metric": self.metric,
            "folds": self.folds,
            "ensemble": stats(self.ensemble_scores),
            "members": {
                n: {**stats(s), "share": float(np.mean(self.member_shares[n])) if self.member_shares.get(n) else None}
                for n, s in self.member_scores.items()
            },
            "best_member": best,
            "gain_over_best_member": float(np.mean(self.ensemble_scores) - np.mean(self.member_scores[best])),
            "mean_disagreement": float(np.mean(self.disagreement)) if self.disagreement else 0.0,
        }


def cross_validate_ensemble(
    ensemble: Any, X: Any, y: np.ndarray, folds: int = 5, metric: str | None = None, seed: int = 0
) -> CVResult:
    """k-fold CV (stratified, shuffled with `seed` for classifiers): per fold, fit a clone of the ensemble on the
    training part and score it and each of its fitted members on the held-out part. Frozen members are shared by
    every clone, never copied."""
    classifier = is_classifier(ensemble)
    metric = metric or ("accuracy" if classifier else "r2")
    scorer = get_scorer(metric)
    splitter = (StratifiedKFold if classifier else KFold)(folds, shuffle=True, random_state=seed)
    result = CVResult(metric, folds)
    for train, test in splitter.split(X, y):
        Xtr, Xte = _safe_indexing(X, train), _safe_indexing(X, test)
        fitted = clone(ensemble).fit(Xtr, y[train])
        result.ensemble_scores.append(float(scorer(fitted, Xte, y[test])))
        shares = fitted.member_weights() if hasattr(fitted, "member_weights") else {}
        preds = []
        for name, member in fitted.named_estimators_.items():
            result.member_scores.setdefault(name, []).append(float(scorer(member, Xte, y[test])))
            if name in shares:
                result.member_shares.setdefault(name, []).append(shares[name])
            preds.append(np.asarray(member.predict(Xte)))
        d = disagreement_matrix(preds, classifier, tol=1e-9)
        n = len(preds)
        result.disagreement.append(float(d[np.triu_indices(n, k=1)].mean()) if n > 1 else 0.0)
    return result


def prepare_config(config_path: str | Path) -> tuple[Any, Any, Any]:
    """Load and check the config and its data, build the (unfitted) ensemble. Returns (config, data, ensemble)."""
    from modelfusion.ensemble.build import build_ensemble
    from modelfusion.ensemble.config import load_config
    from modelfusion.ensemble.data import load_dataset
    from modelfusion.errors import UserError

    config_path = Path(config_path)
    config = load_config(config_path)
    if config.evaluation.metric is not None:
        try:
            get_scorer(config.evaluation.metric)
        except ValueError:
            raise UserError(
                f"evaluation.metric: unknown scikit-learn metric {config.evaluation.metric!r}", where=str(config_path)
            ) from None
    d = config.data
    data_path = Path(d.path) if Path(d.path).is_absolute() else config_path.parent / d.path
    data = load_dataset(data_path, d.label, d.text, d.features, d.format)
    ensemble = build_ensemble(config, config_path)
    return config, data, ensemble


def cross_validate_config(config: Any, data: Any, ensemble: Any, data_path: str) -> CVResult:
    """`cross_validate_ensemble` with the config's evaluation settings (a class smaller than `folds` is an error)."""
    from modelfusion.errors import UserError

    ev = config.evaluation
    if config.task == "classification":
        _, counts = np.unique(data.y, return_counts=True)
        if counts.min() < ev.folds:
            raise UserError(f"a class has {counts.min()} rows, fewer than evaluation.folds={ev.folds}", where=data_path)
    return cross_validate_ensemble(ensemble, data.X, data.y, ev.folds, ev.metric, ev.seed)


def evaluate_config(config_path: str | Path) -> tuple[Any, CVResult]:
    """Load the config and its data, build the ensemble, cross-validate it. Returns (config, result)."""
    config, data, ensemble = prepare_config(config_path)
    d = config.data
    data_path = Path(d.path) if Path(d.path).is_absolute() else Path(config_path).parent / d.path
    return config, cross_validate_config(config, data, ensemble, str(data_path))
