"""Regression ensembles: averaging by hand, stacking equal to scikit-learn's StackingRegressor."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.ensemble import StackingRegressor
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.tree import DecisionTreeRegressor

from modelfusion.ensemble import AveragingEnsembleRegressor, CallableRegressor, StackingEnsembleRegressor


def _data():
    X, y = load_diabetes(return_X_y=True)
    return X[:200], y[:200]


def test_averaging_is_weighted_mean_of_predictions():
    X, y = _data()
    f1 = Ridge().fit(X, y).predict(X)
    f2 = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, y).predict(X)
    ens = AveragingEnsembleRegressor(
        [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3, random_state=0))], weights=[3, 1]
    ).fit(X, y)
    np.testing.assert_allclose(ens.predict(X), (3 * f1 + f2) / 4, rtol=1e-12)


def test_stacking_regressor_matches_sklearn():
    X, y = _data()
    members = [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3, random_state=0))]
    ours = StackingEnsembleRegressor(members, RidgeCV(), cv=4).fit(X, y)
    ref = StackingRegressor(members, RidgeCV(), cv=4).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-10)
    shares = ours.member_weights()
    coef = np.abs(ours.final_estimator_.coef_)
    np.testing.assert_allclose([shares["ridge"], shares["tree"]], coef / coef.sum())


def test_frozen_callable_regressor_in_stack():
    X, y = _data()
    oracle = CallableRegressor(lambda X: np.full(len(X), 150.0))
    ens = StackingEnsembleRegressor([("const", oracle), ("ridge", Ridge())], cv=3).fit(X, y)
    np.testing.assert_array_equal(ens.transform(X[:5])[:, 0], 150.0)
