"""Fixtures: a tiny Llama and GPT-2 saved as base models, and LoRA adapters of them made with PEFT."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lora.adapters import make_adapter
from tests.tiny_models import save_tiny_model

pytest.importorskip("peft")

LLAMA_LORA = {
    "r": 4,
    "lora_alpha": 8,
    "target_modules": ["q_proj", "v_proj", "up_proj", "embed_tokens"],
    "modules_to_save": ["lm_head"],
    "rank_pattern": {"layers.1.self_attn.q_proj": 2},
    "alpha_pattern": {"up_proj": 3},
}


@pytest.fixture(scope="session")
def lora_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lora")
    save_tiny_model("llama", root / "llama", seed=0)
    save_tiny_model("gpt2", root / "gpt2", seed=0)
    return root


@pytest.fixture(scope="session")
def llama_adapters(lora_root) -> dict[str, dict]:
    """Two adapters of the tiny Llama (the second with rsLoRA) -> PEFT's merged weights."""
    return {
        "lora1": make_adapter("llama", 0, lora_root / "lora1", seed=1, **LLAMA_LORA),
        "lora2": make_adapter(
            "llama",
            0,
            lora_root / "lora2",
            seed=2,
            r=3,
            lora_alpha=5,
            use_rslora=True,
            target_modules=["k_proj", "o_proj", "down_proj"],
        ),
    }


@pytest.fixture(scope="session")
def gpt2_adapter(lora_root) -> dict:
    """A GPT-2 adapter: Conv1D weights (fan_in_fan_out) with a trained bias update (lora_bias)."""
    return make_adapter(
        "gpt2",
        0,
        lora_root / "gpt2-lora",
        seed=3,
        r=2,
        lora_alpha=4,
        target_modules=["c_attn", "c_fc"],
        fan_in_fan_out=True,
        lora_bias=True,
    )
