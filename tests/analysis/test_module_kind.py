from __future__ import annotations

import pytest

from modelfusion.analysis.compare import short_labels
from modelfusion.analysis.module_kind import group_of, module_kind


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("model.embed_tokens.weight", "embedding"),
        ("transformer.wte.weight", "embedding"),
        ("embeddings.LayerNorm.weight", "norm"),
        ("model.layers.3.self_attn.q_proj.weight", "attention"),
        ("model.layers.3.post_attention_layernorm.weight", "norm"),
        ("model.layers.3.mlp.down_proj.weight", "mlp"),
        ("transformer.h.0.attn.c_attn.bias", "attention"),
        ("transformer.h.0.ln_2.weight", "norm"),
        ("transformer.h.0.mlp.c_fc.weight", "mlp"),
        ("encoder.layer.0.attention.output.dense.weight", "attention"),
        ("encoder.layer.0.intermediate.dense.weight", "mlp"),
        ("encoder.layer.0.output.dense.weight", "mlp"),
        ("encoder.layer.0.output.LayerNorm.bias", "norm"),
        ("lm_head.weight", "head"),
        ("pooler.dense.weight", "head"),
        ("transformer.ln_f.weight", "norm"),
        ("model.layers.0.block_sparse_moe.experts.1.w1.weight", "mlp"),
        ("something.else", "other"),
    ],
)
def test_module_kind(name, kind):
    assert module_kind(name) == kind


def test_group_of():
    assert group_of("model.layers.12.mlp.up_proj.weight") == (12, "mlp")
    assert group_of("model.norm.weight") == (None, "norm")


def test_short_labels_are_unique():
    assert short_labels(["/a/x", "/b/y"]) == ["x", "y"]
    assert short_labels(["/a/m", "/b/m", "/c/z"]) == ["a/m", "b/m", "z"]
    assert short_labels(["/a/m", "/a/m"]) == ["a/m", "a/m#2"]
