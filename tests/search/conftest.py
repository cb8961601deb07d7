"""Tiny models for search tests: a base and two fine-tunes (plain safetensors folders, 4 layers of 8x8)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

LAYERS = 4


def tiny_state(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    state = {f"model.layers.{i}.mlp.weight": torch.randn(8, 8, generator=g) for i in range(LAYERS)}
    state["model.embed_tokens.weight"] = torch.randn(16, 8, generator=g)
    return state


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """{'base', 'a', 'b'} -> folders; a and b are the base plus small distinct deltas."""
    root = tmp_path_factory.mktemp("search_models")
    base = tiny_state(0)
    folders = {}
    for name, seed in (("base", None), ("a", 1), ("b", 2)):
        state = base if seed is None else {k: v + 0.1 * tiny_state(seed)[k] for k, v in base.items()}
        folder = root / name
        folder.mkdir()
        save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"))
        folders[name] = folder
    return folders


@pytest.fixture
def target(tiny_models) -> dict[str, torch.Tensor]:
    """A point the objective pulls towards: 0.7 of model a's delta and 0.2 of b's."""
    base, a, b = tiny_state(0), tiny_state(1), tiny_state(2)
    return {k: base[k] + 0.1 * (0.7 * a[k] + 0.2 * b[k]) for k in base}
