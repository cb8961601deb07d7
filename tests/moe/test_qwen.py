"""Qwen2-MoE output: experts, the shared expert and its gate; attention biases copied from a Qwen2 base or
zeros for a Llama base; the output loads and generates."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from modelfusion.moe import build_moe
from tests.moe.conftest import moe_config, write_config
from tests.moe.reference import cheap_embed_row

pytest.importorskip("transformers")

SHARED = {"positive_prompts": ["the story of a cat"], "negative_prompts": ["python"]}


def _build(models, tmp_path, shared_model):
    config = moe_config(models, "cheap_embed", experts=2)
    config["shared_experts"] = [{"source_model": str(shared_model), **SHARED}]
    result = build_moe(write_config(tmp_path, config), tmp_path / "out")
    return result, load_file(str(result.out / "model.safetensors"))


def test_qwen_moe_from_qwen2(qwen_family, tmp_path):
    import transformers as tf

    result, out = _build(qwen_family, tmp_path, qwen_family["shared"])
    assert result.architecture == "Qwen MoE"
    config = json.loads((result.out / "config.json").read_text())
    assert config["architectures"] == ["Qwen2MoeForCausalLM"] and config["num_experts"] == 2
    assert config["moe_intermediate_size"] == config["shared_expert_intermediate_size"] == 48
    base = load_file(str(qwen_family["base"] / "model.safetensors"))
    shared = load_file(str(qwen_family["shared"] / "model.safetensors"))
    e1 = load_file(str(qwen_family["e1"] / "model.safetensors"))
    assert torch.equal(out["model.layers.2.self_attn.q_proj.bias"], base["model.layers.2.self_attn.q_proj.bias"])
    for proj in ("gate_proj", "up_proj", "down_proj"):
        src = f"model.layers.0.mlp.{proj}.weight"
        assert torch.equal(out[f"model.layers.0.mlp.shared_expert.{proj}.weight"], shared[src])
        assert torch.equal(out[f"model.layers.0.mlp.experts.1.{proj}.weight"], e1[src])
    row = cheap_embed_row(qwen_family["base"], base["model.embed_tokens.weight"], *SHARED.values())
    torch.testing.assert_close(out["model.layers.1.mlp.shared_expert_gate.weight"], row[None])
    model = tf.AutoModelForCausalLM.from_pretrained(str(result.out)).eval()
    assert type(model).__name__ == "Qwen2MoeForCausalLM"
    assert model.generate(torch.tensor([[1, 3, 4]]), max_new_tokens=3, do_sample=False).shape == (1, 6)


def test_qwen_moe_from_llama_has_zero_attention_biases(llama_family, tmp_path):
    import transformers as tf

    result, out = _build(llama_family, tmp_path, llama_family["e2"])
    assert torch.count_nonzero(out["model.layers.0.self_attn.k_proj.bias"]) == 0
    assert out["model.layers.0.self_attn.k_proj.bias"].shape == (16,)  # 2 kv heads x head_dim 8
    model = tf.AutoModelForCausalLM.from_pretrained(str(result.out)).eval()
    assert model.generate(torch.tensor([[1, 3, 4]]), max_new_tokens=2, do_sample=False).shape == (1, 5)
