"""The torch net is a real scikit-learn estimator: weights honoured, bagged and boosted by scikit-learn."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.ensemble import AdaBoostClassifier, BaggingClassifier

from modelfusion.ensemble import TorchNetClassifier, TorchNetRegressor


def test_integer_sample_weights_equal_repeated_rows(wine):
    X, y = wine[0][:60], wine[1][:60]
    w = np.random.default_rng(0).integers(0, 3, size=len(X))
    a = TorchNetClassifier(hidden_layer_sizes=(8,), epochs=20, random_state=0).fit(X, y, sample_weight=w)
    b = TorchNetClassifier(hidden_layer_sizes=(8,), epochs=20, random_state=0).fit(np.repeat(X, w, 0), np.repeat(y, w))
    for pa, pb in zip(a.module_.parameters(), b.module_.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-9, atol=1e-10)
    c = TorchNetClassifier(hidden_layer_sizes=(8,), epochs=20, random_state=0).fit(X, y)
    assert not np.allclose(a.predict_proba(X), c.predict_proba(X))  # the weights did change the fit


def test_probabilities_are_softmax_of_the_trained_network(wine):
    X, y = wine
    clf = TorchNetClassifier(hidden_layer_sizes=(16,), epochs=60, random_state=0).fit(X, 10 + y)
    with torch.no_grad():
        z = clf.module_(torch.as_tensor((X - X.mean(0)) / X.std(0)))
    np.testing.assert_allclose(clf.predict_proba(X), torch.softmax(z, 1).numpy(), rtol=1e-8)
    assert clf.classes_.tolist() == [10, 11, 12] and clf.score(X, 10 + y) > 0.95


def test_adaboost_passes_nonuniform_weights_and_boosts(cancer):
    X, y = cancer
    seen = []

    class Spy(TorchNetClassifier):
        def fit(self, X, y, sample_weight=None):
            seen.append(None if sample_weight is None else np.asarray(sample_weight).copy())
            return super().fit(X, y, sample_weight)

    boost = AdaBoostClassifier(Spy(hidden_layer_sizes=(2,), epochs=15, random_state=0), n_estimators=3, random_state=0)
    boost.fit(X, y)
    assert len(seen) >= 2 and seen[1] is not None and seen[1].std() > 0  # later rounds reweight the rows
    assert len(boost.estimators_) >= 2 and boost.score(X, y) > 0.85


def test_bagging_a_torch_net(cancer):
    X, y = cancer
    bag = BaggingClassifier(
        TorchNetClassifier(hidden_layer_sizes=(8,), epochs=30, random_state=0), n_estimators=3, random_state=0
    ).fit(X, y)
    assert len(bag.estimators_) == 3 and bag.score(X, y) > 0.9
    mean = np.mean([e.predict_proba(X[:, f]) for e, f in zip(bag.estimators_, bag.estimators_features_)], axis=0)
    np.testing.assert_allclose(bag.predict_proba(X), mean, rtol=1e-10)


def test_regressor_learns_a_linear_target():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = X @ np.array([2.0, -1.0, 0.5]) + 7
    reg = TorchNetRegressor(hidden_layer_sizes=(16,), epochs=150, random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.95
