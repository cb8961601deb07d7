"""Stacking trains the meta-learner on out-of-fold outputs only; numbers match scikit-learn's StackingClassifier."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier

from modelfusion.ensemble import StackingEnsemble, freeze


class RowMemory(ClassifierMixin, BaseEstimator):
    """Column 0 of X is a row id. predict_proba returns [1, 0] for rows it was trained on, [0, 1] otherwise."""

    def fit(self, X, y):
        self.seen_ = set(np.asarray(X)[:, 0].astype(int).tolist())
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        seen = np.array([int(i) in self.seen_ for i in np.asarray(X)[:, 0]], dtype=float)
        return np.column_stack([seen, 1 - seen, np.zeros((len(seen), len(self.classes_) - 2))])


class RecordingMeta(ClassifierMixin, BaseEstimator):
    """A meta-learner that remembers what it was trained on (a LogisticRegression underneath)."""

    log: list = []  # noqa: RUF012 - shared on purpose: clones write to the same list

    def fit(self, X, y):
        RecordingMeta.log.append(np.array(X, copy=True))
        self.lr_ = LogisticRegression(max_iter=500).fit(X, y)
        self.classes_ = self.lr_.classes_
        return self

    def predict_proba(self, X):
        return self.lr_.predict_proba(X)

    def predict(self, X):
        return self.lr_.predict(X)


def test_meta_learner_never_sees_a_prediction_made_on_its_own_training_row(wine):
    X, y = wine
    Xid = np.column_stack([np.arange(len(X)), X])
    RecordingMeta.log.clear()
    ens = StackingEnsemble([("memory", RowMemory())], RecordingMeta(), cv=4).fit(Xid, y)
    (X_meta,) = RecordingMeta.log
    # column 0 of the member block = "was this row in the member's training set": never, out of fold
    assert X_meta.shape == (len(X), 3)
    assert (X_meta[:, 0] == 0).all() and (X_meta[:, 1] == 1).all()
    # at predict time the refitted member has seen every row (it is trained on all of them)
    assert (ens.transform(Xid)[:, 0] == 1).all()


def test_prefit_mode_shows_in_sample_predictions(wine):
    X, y = wine
    Xid = np.column_stack([np.arange(len(X)), X])
    RecordingMeta.log.clear()
    member = RowMemory().fit(Xid, y)
    StackingEnsemble([("memory", member)], RecordingMeta(), cv="prefit").fit(Xid, y)
    assert (RecordingMeta.log[0][:, 0] == 1).all()  # the documented risk: every row was seen


def test_meta_features_equal_sklearn_cross_val_predict(wine):
    X, y = wine
    cv = StratifiedKFold(3)
    members = [("nb", GaussianNB()), ("dt", DecisionTreeClassifier(max_depth=2, random_state=0))]
    expected = np.hstack([cross_val_predict(m, X, y, cv=cv, method="predict_proba") for _, m in members])
    RecordingMeta.log.clear()
    StackingEnsemble(members, RecordingMeta(), cv=cv).fit(X, y)
    np.testing.assert_allclose(RecordingMeta.log[0], expected, rtol=1e-12)


def test_binary_probabilities_keep_one_column_and_match_sklearn(cancer):
    X, y = cancer
    members = [("nb", GaussianNB()), ("dt", DecisionTreeClassifier(max_depth=3, random_state=0))]
    ours = StackingEnsemble(members, LogisticRegression(), cv=5).fit(X, y)
    ref = StackingClassifier(members, LogisticRegression(), cv=5).fit(X, y)
    assert ours.transform(X).shape == (len(X), 2)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-10)


def test_member_weights_are_coefficient_shares(wine):
    X, y = wine
    members = [("nb", GaussianNB()), ("dt", DecisionTreeClassifier(max_depth=2, random_state=0))]
    ens = StackingEnsemble(members, LogisticRegression(max_iter=500), cv=3).fit(X, y)
    coef = np.abs(ens.final_estimator_.coef_).sum(0)  # 3 classes x (3 + 3) member columns
    expected = np.array([coef[:3].sum(), coef[3:].sum()]) / coef.sum()
    np.testing.assert_allclose(list(ens.member_weights().values()), expected)


def test_frozen_member_is_used_once_not_refitted(wine):
    X, y = wine
    lr = LogisticRegression(max_iter=500).fit(X[::3], y[::3])
    ens = StackingEnsemble([("lr", freeze(lr)), ("nb", GaussianNB())], cv=3).fit(X, y)
    assert ens.named_estimators_["lr"].estimator is lr
    np.testing.assert_allclose(ens.transform(X)[:, :3], lr.predict_proba(X))


def test_string_labels_and_bad_stack_method(wine):
    X, y = wine
    names = np.array(["a", "b", "c"])[y]
    ens = StackingEnsemble([("nb", GaussianNB())], cv=3).fit(X, names)
    assert set(ens.predict(X)) <= {"a", "b", "c"} and ens.classes_.tolist() == ["a", "b", "c"]
    with pytest.raises(ValueError, match="stack_method"):
        StackingEnsemble([("nb", GaussianNB())], stack_method="vote").fit(X, y)
