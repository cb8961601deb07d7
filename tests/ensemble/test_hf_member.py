"""A Hugging Face sequence-classification folder as a frozen text member, mixed with a scikit-learn text pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from modelfusion.ensemble import HFTextClassifier, StackingEnsemble, VotingEnsemble
from modelfusion.errors import UserError

TEXTS = np.array(
    ["good movie", "great film", "very nice plot", "happy actor", "fine film very good", "a nice movie"] * 3
    + ["bad movie", "awful film", "poor plot", "sad actor", "terrible film very bad", "not good"] * 3,
    dtype=object,
)
LABELS = np.array(["pos"] * 18 + ["neg"] * 18)


def test_log_proba_is_log_softmax_of_the_model_logits(tiny_text_classifier):
    import transformers as tf

    member = HFTextClassifier(tiny_text_classifier, classes=["neg", "pos"])
    model = tf.AutoModelForSequenceClassification.from_pretrained(tiny_text_classifier).eval()
    tok = tf.AutoTokenizer.from_pretrained(tiny_text_classifier)
    with torch.no_grad():
        logits = model(**tok(list(TEXTS[:5]), padding=True, return_tensors="pt")).logits.double()
    np.testing.assert_allclose(member.predict_log_proba(TEXTS[:5]), torch.log_softmax(logits, 1).numpy(), atol=1e-6)
    assert member.classes_.tolist() == ["neg", "pos"]
    default = HFTextClassifier(tiny_text_classifier)
    assert default.classes_.tolist() == ["LABEL_0", "LABEL_1"]  # from config.id2label


def test_soft_voting_with_text_pipeline_and_frozen_bert(tiny_text_classifier):
    bert = HFTextClassifier(tiny_text_classifier, classes=["neg", "pos"])
    bow = make_pipeline(CountVectorizer(), LogisticRegression())
    ens = VotingEnsemble([("bert", bert), ("bow", bow)], voting="soft", weights=[1, 3]).fit(TEXTS, LABELS)
    p_bow = make_pipeline(CountVectorizer(), LogisticRegression()).fit(TEXTS, LABELS).predict_proba(TEXTS)
    expected = (np.exp(bert.predict_log_proba(TEXTS)) + 3 * p_bow) / 4
    np.testing.assert_allclose(ens.predict_proba(TEXTS), expected, rtol=1e-9)


def test_bert_is_loaded_once_and_shared_across_cv_folds(tiny_text_classifier):
    bert = HFTextClassifier(tiny_text_classifier, classes=["neg", "pos"])
    ens = StackingEnsemble([("bert", bert), ("bow", make_pipeline(CountVectorizer(), LogisticRegression()))], cv=3)
    bert.predict(TEXTS[:2])
    model = bert._loaded[1]
    assert clone(ens).estimators[0][1] is bert
    scores = cross_val_score(ens, TEXTS, LABELS, cv=3)
    assert scores.mean() > 0.8  # the bag of words carries the task; the random bert must not break it
    assert bert._loaded[1] is model  # same model object: not reloaded, not copied


def test_missing_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match=r"no config\.json"):
        HFTextClassifier(tmp_path / "nope", classes=[0, 1]).predict(["x"])
