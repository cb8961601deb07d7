"""Fixtures: tiny dense Llama and Qwen2 families (a base and experts with one tokenizer), and config writing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.moe.tiny import save_dense

PROMPTS = [
    {"positive_prompts": ["the cat sat on mat", "a dog ran far"], "negative_prompts": ["code python"]},
    {"positive_prompts": ["python code math sum"]},
    {"positive_prompts": ["poem rhyme story", "king story"], "negative_prompts": ["the cat"]},
]


@pytest.fixture(scope="session")
def llama_family(tmp_path_factory) -> dict[str, Path]:
    """base (seed 0) and e0..e2 (seeds 1..3): tiny Llamas with the same tokenizer."""
    root = tmp_path_factory.mktemp("moe_llama")
    return {name: save_dense(root / name, "llama", seed) for seed, name in enumerate(["base", "e0", "e1", "e2"])}


@pytest.fixture(scope="session")
def qwen_family(tmp_path_factory) -> dict[str, Path]:
    """base, e0, e1 and shared: tiny Qwen2 models (attention biases) with the same tokenizer."""
    root = tmp_path_factory.mktemp("moe_qwen")
    return {name: save_dense(root / name, "qwen2", seed) for seed, name in enumerate(["base", "e0", "e1", "shared"])}


def moe_config(models: dict[str, Path], gate_mode: str, experts: int = 3, **extra) -> dict:
    """A mergekit-moe config over `models` (base, e0.., and `shared` if given in extra)."""
    return {
        "base_model": str(models["base"]),
        "gate_mode": gate_mode,
        "experts": [{"source_model": str(models[f"e{i}"]), **PROMPTS[i]} for i in range(experts)],
        **extra,
    }


def write_config(folder: Path, config: dict, name: str = "moe.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
