"""Shared fixtures: tiny random Hugging Face models built from configs (no downloads)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import torch

from tests.tiny_models import save_tiny_model


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Hash and mtime of every file under `folder`, to prove inputs are untouched."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(folder))] = (hashlib.sha256(p.read_bytes()).hexdigest(), os.stat(p).st_mtime_ns)
    return out


@pytest.fixture(scope="session")
def tiny_llamas(tmp_path_factory) -> list[Path]:
    """Three tiny Llama checkpoints: base and two 'fine-tunes' (base + noise)."""
    root = tmp_path_factory.mktemp("llama")
    return [save_tiny_model("llama", root / f"m{i}", seed=i) for i in range(3)]


@pytest.fixture(scope="session")
def tiny_berts(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("bert")
    return [save_tiny_model("bert", root / f"m{i}", seed=i) for i in range(2)]


@pytest.fixture(scope="session")
def tiny_gpt2s(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("gpt2")
    return [save_tiny_model("gpt2", root / f"m{i}", seed=i) for i in range(2)]


@pytest.fixture(autouse=True)
def _torch_threads():
    torch.set_num_threads(1)
    yield
