"""Nested parameters as in scikit-learn, GridSearchCV over a member, n_jobs, hard voting without predict_proba."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_wine
from sklearn.ensemble import StackingClassifier, StackingRegressor, VotingClassifier, VotingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from modelfusion.ensemble import (
    AveragingEnsembleRegressor,
    StackingEnsemble,
    StackingEnsembleRegressor,
    VotingEnsemble,
)


def classifiers():
    return [
        ("lr", make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))),
        ("tree", DecisionTreeClassifier(max_depth=3, random_state=0)),
        ("nb", GaussianNB()),
    ]


def regressors():
    return [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3, random_state=0))]


def member_keys(params: dict) -> set[str]:
    """The keys that name members and their nested parameters (the combiner's own options differ by design)."""
    return {k for k in params if "__" in k or k in {"lr", "tree", "nb", "ridge", "final_estimator"}}


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda: VotingEnsemble(classifiers()), lambda: VotingClassifier(classifiers())),
        (
            lambda: StackingEnsemble(classifiers(), LogisticRegression()),
            lambda: StackingClassifier(classifiers(), LogisticRegression()),
        ),
        (lambda: AveragingEnsembleRegressor(regressors()), lambda: VotingRegressor(regressors())),
        (
            lambda: StackingEnsembleRegressor(regressors(), Ridge()),
            lambda: StackingRegressor(regressors(), Ridge()),
        ),
    ],
    ids=["voting", "stacking", "averaging", "stacking_regressor"],
)
def test_get_params_keys_match_sklearn(ours, theirs):
    mine, ref = ours().get_params(deep=True), theirs().get_params(deep=True)
    assert member_keys(mine) == member_keys(ref)
    assert {"estimators", "n_jobs"} <= set(mine)


def test_set_params_reaches_members_replaces_and_drops():
    ens = VotingEnsemble(classifiers())
    ens.set_params(lr__logisticregression__C=0.1, tree__max_depth=2)
    assert ens.get_params()["lr__logisticregression__C"] == 0.1
    assert dict(ens.estimators)["tree"].max_depth == 2
    new_tree = DecisionTreeClassifier(max_depth=2, random_state=0)
    assert dict(ens.set_params(tree=new_tree).estimators)["tree"] is new_tree
    ens.set_params(nb="drop")
    X, y = load_wine(return_X_y=True)
    ens.fit(X, y)
    assert ens.member_names_ == ["lr", "tree"]
    ref = VotingClassifier(classifiers(), voting="soft").set_params(
        lr__logisticregression__C=0.1, tree__max_depth=2, nb="drop"
    )
    np.testing.assert_allclose(ens.predict_proba(X), ref.fit(X, y).predict_proba(X), atol=1e-12)
    with pytest.raises(ValueError, match="all estimators are dropped"):
        VotingEnsemble([("a", "drop")]).fit(X, y)
    with pytest.raises(ValueError, match="conflict with constructor arguments"):
        VotingEnsemble([("weights", GaussianNB())]).fit(X, y)


def test_dropped_member_drops_its_weight():
    X, y = load_wine(return_X_y=True)
    ens = VotingEnsemble(classifiers(), weights=[1, 5, 2]).set_params(tree="drop").fit(X, y)
    assert ens.member_weights() == pytest.approx({"lr": 1 / 3, "nb": 2 / 3})


def test_grid_search_tunes_a_member_parameter():
    X, y = load_wine(return_X_y=True)
    grid = {"tree__max_depth": [1, 4]}
    ours = GridSearchCV(VotingEnsemble(classifiers()), grid, cv=3).fit(X, y)
    ref = GridSearchCV(VotingClassifier(classifiers(), voting="soft"), grid, cv=3).fit(X, y)
    assert ours.best_params_ == ref.best_params_
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], atol=1e-12)
    assert dict(ours.best_estimator_.estimators)["tree"].max_depth == ours.best_params_["tree__max_depth"]
    stack = GridSearchCV(
        StackingEnsemble(classifiers(), LogisticRegression(max_iter=1000), cv=3),
        {"final_estimator__C": [0.1, 1.0]},
        cv=3,
    ).fit(X, y)
    assert stack.best_params_["final_estimator__C"] in (0.1, 1.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda n: VotingEnsemble(classifiers(), n_jobs=n),
        lambda n: VotingEnsemble(classifiers(), voting="logit", n_jobs=n),
        lambda n: StackingEnsemble(classifiers(), cv=3, n_jobs=n),
    ],
    ids=["soft", "logit", "stacking"],
)
def test_n_jobs_gives_identical_results_classification(make):
    X, y = load_wine(return_X_y=True)
    one, two = make(1).fit(X, y), make(2).fit(X, y)
    np.testing.assert_array_equal(one.predict_proba(X), two.predict_proba(X))
    np.testing.assert_array_equal(one.predict(X), two.predict(X))


def test_n_jobs_gives_identical_results_regression_and_hard_voting():
    X, y = load_diabetes(return_X_y=True)
    for make in (
        lambda n: AveragingEnsembleRegressor(regressors(), n_jobs=n),
        lambda n: StackingEnsembleRegressor(regressors(), cv=3, n_jobs=n),
    ):
        np.testing.assert_array_equal(make(1).fit(X, y).predict(X), make(2).fit(X, y).predict(X))
    Xc, yc = load_wine(return_X_y=True)
    hard = [VotingEnsemble(classifiers(), voting="hard", n_jobs=n).fit(Xc, yc).predict(Xc) for n in (1, 2)]
    np.testing.assert_array_equal(*hard)


def test_hard_voting_hides_predict_proba():
    X, y = load_wine(return_X_y=True)
    hard = VotingEnsemble(classifiers(), voting="hard")
    assert not hasattr(hard, "predict_proba")
    assert not hasattr(hard.fit(X, y), "predict_proba")
    with pytest.raises(AttributeError, match="predict_proba"):
        hard.predict_proba(X)
    assert hasattr(hard.set_params(voting="soft"), "predict_proba")
    assert hasattr(VotingEnsemble(classifiers(), voting="logit"), "predict_proba")
