"""Frankenmerges: `slices` + `layer_range` + passthrough stack layers into a model of a different depth."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from modelfusion.api import merge
from modelfusion.errors import PlanError
from modelfusion.plan.layer_config import restacked_config


def _weights(folder) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def _stack(sources, layer_key: str) -> dict[str, torch.Tensor]:
    """The expected frankenmerge, built by hand: layer i of the output is layer j of model m."""
    out = {}
    for i, (sd, j) in enumerate(sources):
        for name, t in sd.items():
            if f"{layer_key}.{j}." in name:
                out[name.replace(f"{layer_key}.{j}.", f"{layer_key}.{i}.")] = t
    return out


def _slices(*parts):
    return [{"sources": [{"model": str(m), "layer_range": [a, b]}]} for m, a, b in parts]


def test_llama_frankenmerge_stacks_renumbers_and_loads(tiny_llamas, tmp_path):
    import transformers as tf

    m0, m1, m2 = tiny_llamas
    recipe = {"merge_method": "passthrough", "dtype": "float32", "slices": _slices((m0, 0, 3), (m1, 1, 3), (m2, 2, 4))}
    out = tmp_path / "franken"
    merge(recipe, out, threads=1)

    w0, w1, w2 = _weights(m0), _weights(m1), _weights(m2)
    expected = _stack([(w0, 0), (w0, 1), (w0, 2), (w1, 1), (w1, 2), (w2, 2), (w2, 3)], "model.layers")
    expected["model.embed_tokens.weight"] = w0["model.embed_tokens.weight"]  # first slice's model
    expected["model.norm.weight"] = w2["model.norm.weight"]  # last slice's model
    expected["lm_head.weight"] = w2["lm_head.weight"]
    got = _weights(out)
    assert sorted(got) == sorted(expected)
    for name, t in expected.items():
        assert torch.equal(got[name], t), name

    config = json.loads((out / "config.json").read_text())
    assert config["num_hidden_layers"] == 7
    model = tf.AutoModelForCausalLM.from_pretrained(out).eval()
    assert len(model.model.layers) == 7
    # Independently: a 7-layer Llama given the hand-stacked weights computes the same logits.
    ref_config = tf.LlamaConfig.from_pretrained(m0)
    ref_config.num_hidden_layers = 7
    reference = tf.LlamaForCausalLM(ref_config).eval()
    reference.load_state_dict(expected)
    ids = torch.randint(0, ref_config.vocab_size, (2, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(ids).logits
        assert torch.isfinite(logits).all()
        assert torch.equal(logits, reference(ids).logits)


def test_fewer_layers_and_scale_filter(tiny_llamas, tmp_path):
    m0, m1, _ = tiny_llamas
    recipe = {
        "merge_method": "passthrough",
        "slices": [
            {"sources": [{"model": str(m1), "layer_range": [3, 4]}]},
            {
                "sources": [{"model": str(m0), "layer_range": [0, 1]}],
                "parameters": {"scale": [{"filter": "o_proj", "value": 0.5}, {"value": 1.0}]},
            },
        ],
    }
    out = tmp_path / "short"
    merge(recipe, out, threads=2)
    w0, w1 = _weights(m0), _weights(m1)
    got = _weights(out)
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 2
    assert not any(".layers.2." in n for n in got)
    assert torch.equal(got["model.layers.0.mlp.up_proj.weight"], w1["model.layers.3.mlp.up_proj.weight"])
    assert torch.equal(
        got["model.layers.1.self_attn.o_proj.weight"], w0["model.layers.0.self_attn.o_proj.weight"] * 0.5
    )
    assert torch.equal(got["model.layers.1.self_attn.q_proj.weight"], w0["model.layers.0.self_attn.q_proj.weight"])
    assert torch.equal(got["model.embed_tokens.weight"], w1["model.embed_tokens.weight"])
    assert torch.equal(got["lm_head.weight"], w0["lm_head.weight"])


def test_gpt2_frankenmerge_with_tied_embeddings(tiny_gpt2s, tmp_path):
    import transformers as tf

    g0, g1 = tiny_gpt2s
    out = tmp_path / "gpt2"
    merge({"merge_method": "passthrough", "slices": _slices((g0, 0, 2), (g1, 0, 2), (g0, 1, 2))}, out, threads=1)
    w0, w1 = _weights(g0), _weights(g1)
    got = _weights(out)
    expected = _stack([(w0, 0), (w0, 1), (w1, 0), (w1, 1), (w0, 1)], "transformer.h")
    for name, t in expected.items():
        assert torch.equal(got[name], t), name
    assert "lm_head.weight" not in got
    assert torch.equal(got["transformer.wte.weight"], w0["transformer.wte.weight"])
    config = json.loads((out / "config.json").read_text())
    assert config["n_layer"] == 5
    model = tf.GPT2LMHeadModel.from_pretrained(out).eval()
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    with torch.no_grad():
        assert torch.isfinite(model(torch.arange(8)[None]).logits).all()


def test_layer_range_errors_found_at_plan_time(tiny_llamas, tmp_path):
    m0, m1, _ = tiny_llamas
    recipe = {
        "merge_method": "passthrough",
        "slices": [
            {"sources": [{"model": str(m0), "layer_range": [2, 6]}]},
            {"sources": [{"model": str(m0), "layer_range": [0, 2]}, {"model": str(m1), "layer_range": [0, 3]}]},
        ],
    }
    with pytest.raises(PlanError) as e:
        merge(recipe, tmp_path / "bad")
    text = str(e.value)
    assert "layer_range [2, 6]" in text and "4 layers" in text
    assert "different lengths" in text
    assert not (tmp_path / "bad").exists()


def test_per_layer_config_lists_follow_their_layers():
    qwen = {"num_hidden_layers": 3, "layer_types": ["full", "sliding", "full"], "vocab_size": 5}
    other = {"num_hidden_layers": 2, "layer_types": ["sliding", "sliding"]}
    origins = [("q", 0), ("q", 1), ("o", 0), ("q", 2)]
    out = restacked_config(qwen, 3, origins, {"q": qwen, "o": other}, {"q": 3, "o": 2})
    assert out["num_hidden_layers"] == 4
    assert out["layer_types"] == ["full", "sliding", "sliding", "full"]
    assert qwen["layer_types"] == ["full", "sliding", "full"]  # input untouched
