"""Voting / averaging equal the formulas computed by hand from independently fitted members."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier

from modelfusion.ensemble import CallableClassifier, VotingEnsemble, freeze


def _members():
    return [("lr", LogisticRegression(max_iter=500)), ("nb", GaussianNB())]


def test_soft_voting_is_weighted_mean_of_probabilities(wine):
    X, y = wine
    p1 = LogisticRegression(max_iter=500).fit(X, y).predict_proba(X)
    p2 = GaussianNB().fit(X, y).predict_proba(X)
    expected = (1.0 * p1 + 3.0 * p2) / 4.0
    ens = VotingEnsemble(_members(), voting="soft", weights=[1, 3]).fit(X, y)
    np.testing.assert_allclose(ens.predict_proba(X), expected, rtol=1e-12)
    np.testing.assert_array_equal(ens.predict(X), np.unique(y)[expected.argmax(1)])


def test_logit_averaging_is_softmax_of_weighted_mean_log_probabilities(wine):
    X, y = wine
    l1 = np.log(np.clip(LogisticRegression(max_iter=500).fit(X, y).predict_proba(X), 1e-300, None))
    l2 = np.log(np.clip(GaussianNB().fit(X, y).predict_proba(X), 1e-300, None))
    z = (2.0 * np.maximum(l1, np.log(1e-12)) + 1.0 * np.maximum(l2, np.log(1e-12))) / 3.0
    expected = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    ens = VotingEnsemble(_members(), voting="logit", weights=[2, 1]).fit(X, y)
    np.testing.assert_allclose(ens.predict_proba(X), expected, rtol=1e-9, atol=1e-12)


def test_logit_averaging_of_raw_logits_equals_softmax_of_mean_logits():
    """Members with logits: softmax(mean of log_softmax) == softmax(mean of logits) (normalisers cancel)."""
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(7, 4)), 3 * rng.normal(size=(7, 4))
    X = np.arange(7)[:, None]
    a = CallableClassifier(lambda X: z1[np.asarray(X)[:, 0]], classes=[0, 1, 2, 3], output="logits")
    b = CallableClassifier(lambda X: z2[np.asarray(X)[:, 0]], classes=[0, 1, 2, 3], output="logits")
    ens = VotingEnsemble([("a", a), ("b", b)], voting="logit", weights=[1, 3]).fit(X, [0, 1, 2, 3, 0, 1, 2])
    z = (z1 + 3 * z2) / 4
    np.testing.assert_allclose(ens.predict_proba(X), np.exp(z) / np.exp(z).sum(1, keepdims=True), rtol=1e-9)


def test_hard_voting_counts_weighted_votes(wine):
    X, y = wine
    dt = DecisionTreeClassifier(random_state=0)
    members = [("lr", LogisticRegression(max_iter=500)), ("nb", GaussianNB()), ("dt", dt)]
    preds = [m.fit(X[::2], y[::2]).predict(X) for _, m in members]
    w = np.array([1.0, 1.0, 2.5])
    classes = np.unique(y)
    counts = np.zeros((len(X), len(classes)))
    for wi, p in zip(w, preds):
        counts[np.arange(len(X)), np.searchsorted(classes, p)] += wi
    ens = VotingEnsemble(members, voting="hard", weights=w).fit(X[::2], y[::2])
    np.testing.assert_array_equal(ens.predict(X), classes[counts.argmax(1)])
    np.testing.assert_array_equal(ens.predict(X), preds[2])  # weight 2.5 > 1 + 1: the tree always wins


def test_members_are_aligned_by_label_not_by_column():
    X = np.zeros((4, 1))
    y = np.array(["cat", "dog", "cat", "dog"])
    # a pretrained member whose columns are in the opposite order, always 90% "dog"
    rev = CallableClassifier(lambda X: np.tile([0.9, 0.1], (len(X), 1)), classes=["dog", "cat"])
    ens = VotingEnsemble([("rev", rev)], voting="soft").fit(X, y)
    np.testing.assert_allclose(ens.predict_proba(X), np.tile([0.1, 0.9], (4, 1)))
    assert list(ens.predict(X)) == ["dog"] * 4


def test_frozen_member_with_extra_class_extends_classes():
    X = np.zeros((4, 1))
    m = CallableClassifier(lambda X: np.tile([0.2, 0.3, 0.5], (len(X), 1)), classes=[0, 1, 2])
    ens = VotingEnsemble([("m", m)]).fit(X, [0, 1, 0, 1])
    assert ens.classes_.tolist() == [0, 1, 2]
    assert ens.predict(X).tolist() == [2, 2, 2, 2]


def test_frozen_fitted_estimator_is_not_refitted(wine):
    X, y = wine
    lr = LogisticRegression(max_iter=500).fit(X[:60], y[:60])
    coef = lr.coef_.copy()
    ens = VotingEnsemble([("lr", freeze(lr)), ("nb", GaussianNB())]).fit(X, y)
    np.testing.assert_array_equal(lr.coef_, coef)
    assert ens.named_estimators_["lr"].estimator is lr


@pytest.mark.parametrize("weights", [[1], [1, -1], [0, 0]])
def test_bad_weights_are_refused(wine, weights):
    X, y = wine
    with pytest.raises(ValueError, match="weight"):
        VotingEnsemble(_members(), weights=weights).fit(X, y)


def test_unwrapped_callable_member_gets_a_clear_error(wine):
    X, y = wine
    with pytest.raises(TypeError, match="CallableClassifier"):
        VotingEnsemble([("f", lambda X: X)]).fit(X, y)
