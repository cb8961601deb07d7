"""Fixtures of the ensemble tests: small real data sets and a tiny text classifier folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.ensemble.tiny_text_models import save_tiny_text_classifier


@pytest.fixture(scope="session")
def wine() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


@pytest.fixture(scope="session")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = X[:, :8]
    return (X - X.mean(0)) / X.std(0), y


@pytest.fixture(scope="session")
def tiny_text_classifier(tmp_path_factory) -> Path:
    return save_tiny_text_classifier(tmp_path_factory.mktemp("bertcls") / "model", seed=0)
