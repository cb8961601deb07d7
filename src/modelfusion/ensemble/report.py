"""Contribution report: who carries the ensemble? Weight share, own score vs ensemble score, disagreement."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.metrics import get_scorer


@dataclass
class MemberContribution:
    name: str
    share: float | None  # voting weight / total, or the meta-learner's |coef| share; None if the combiner has none
    score: float  # the member's own score on the data


@dataclass
class ContributionReport:
    metric: str
    ensemble_score: float
    members: list[MemberContribution]
    disagreement: np.ndarray  # [i, j] = fraction of samples where members i and j predict differently
    names: list[str] = field(default_factory=list)

    @property
    def mean_disagreement(self) -> float:
        """Mean over member pairs i < j of the disagreement rate (0 when there is one member)."""
        n = len(self.names)
        if n < 2:
            return 0.0
        return float(self.disagreement[np.triu_indices(n, k=1)].mean())

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "ensemble_score": self.ensemble_score,
            "members": [vars(m) for m in self.members],
            "mean_disagreement": self.mean_disagreement,
            "disagreement": {a: dict(zip(self.names, row.tolist())) for a, row in zip(self.names, self.disagreement)},
        }


def disagreement_matrix(predictions: list[np.ndarray], classifier: bool, tol: float = 0.0) -> np.ndarray:
    """D[i, j] = mean over samples of [pred_i != pred_j] (regression: |pred_i - pred_j| > tol)."""
    m = len(predictions)
    out = np.zeros((m, m))
    for i in range(m):
        for j in range(m):
            a, b = predictions[i], predictions[j]
            differ = (a != b) if classifier else (np.abs(a - b) > tol)
            out[i, j] = float(np.mean(differ))
    return out


def contribution_report(ensemble: Any, X: Any, y: Any, scoring: str | None = None) -> ContributionReport:
    """Score the fitted `ensemble` and each of its fitted members on (X, y) - use held-out data.

    scoring: a scikit-learn scorer name (default 'accuracy' for classifiers, 'r2' for regressors).
    """
    classifier = is_classifier(ensemble)
    metric = scoring or ("accuracy" if classifier else "r2")
    scorer = get_scorer(metric)
    names = list(ensemble.named_estimators_.keys())
    members = list(ensemble.estimators_)
    shares = ensemble.member_weights() if hasattr(ensemble, "member_weights") else {}
    predictions = [np.asarray(m.predict(X)) for m in members]
    rows = [MemberContribution(n, shares.get(n), float(scorer(m, X, y))) for n, m in zip(names, members)]
    return ContributionReport(
        metric=metric,
        ensemble_score=float(scorer(ensemble, X, y)),
        members=rows,
        disagreement=disagreement_matrix(predictions, classifier),
        names=names,
    )
