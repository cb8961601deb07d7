"""A tiny encoder folder for the fine-tuning tests of bench/quality (built once per session)."""

from __future__ import annotations

import pytest

from tests.evaluate.tiny_text import save_tiny_encoder


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory):
    return save_tiny_encoder(tmp_path_factory.mktemp("tiny-encoder") / "base", seed=0)
