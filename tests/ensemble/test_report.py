"""Contribution report: shares, own scores and disagreement rates against hand computations."""

from __future__ import annotations

import numpy as np

from modelfusion.ensemble import CallableClassifier, VotingEnsemble, contribution_report


def test_report_scores_shares_and_disagreement():
    X = np.arange(10)[:, None]
    y = np.array([0, 1] * 5)
    a_pred = y.copy()
    b_pred = y.copy()
    b_pred[:3] = 1 - b_pred[:3]  # b wrong on 3 rows
    c_pred = np.ones(10, dtype=int)  # c always says 1

    def member(pred):
        return CallableClassifier(lambda X: pred[np.asarray(X)[:, 0]], classes=[0, 1], output="labels")

    ens = VotingEnsemble(
        [("a", member(a_pred)), ("b", member(b_pred)), ("c", member(c_pred))], voting="hard", weights=[2, 1, 1]
    ).fit(X, y)
    rep = contribution_report(ens, X, y)
    assert [m.share for m in rep.members] == [0.5, 0.25, 0.25]
    assert [m.score for m in rep.members] == [1.0, 0.7, 0.5]
    assert rep.ensemble_score == 1.0  # a's weight 2 never loses: ties go to a's side at worst
    expected = np.array([[0, 0.3, 0.5], [0.3, 0, np.mean(b_pred != c_pred)], [0.5, np.mean(b_pred != c_pred), 0]])
    np.testing.assert_allclose(rep.disagreement, expected)
    assert abs(rep.mean_disagreement - (0.3 + 0.5 + np.mean(b_pred != c_pred)) / 3) < 1e-12
