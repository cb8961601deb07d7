"""MoE assembly on tiny models: where every output tensor comes from, the routers of each gate mode against an
independent computation, and the output loading and generating with transformers."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from modelfusion.moe import MoEOptions, build_moe
from tests.moe.conftest import PROMPTS, moe_config, write_config
from tests.moe.reference import cheap_embed_row, hidden_rows

pytest.importorskip("transformers")


def _weights(folder):
    return load_file(str(folder / "model.safetensors"))


def _generate(folder, cls_name):
    import transformers as tf

    model = tf.AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    assert type(model).__name__ == cls_name
    ids = torch.tensor([[1, 3, 4, 5]])
    out = model.generate(ids, max_new_tokens=3, do_sample=False)
    assert out.shape == (1, 7)
    return model


@pytest.fixture(scope="module")
def mixtral_cheap(llama_family, tmp_path_factory):
    root = tmp_path_factory.mktemp("mixtral_cheap")
    cfg = write_config(root, moe_config(llama_family, "cheap_embed", experts_per_token=2))
    with pytest.warns(UserWarning, match="power of two"):
        result = build_moe(cfg, root / "out")
    return result


def test_mixtral_tensors_come_from_base_and_experts(mixtral_cheap, llama_family):
    out = _weights(mixtral_cheap.out)
    base = _weights(llama_family["base"])
    config = json.loads((mixtral_cheap.out / "config.json").read_text())
    assert config["architectures"] == ["MixtralForCausalLM"] and config["num_local_experts"] == 3
    assert config["num_experts_per_tok"] == 2
    for name, t in base.items():
        if ".mlp." not in name:
            assert torch.equal(out[name], t), name
    for i in range(3):
        expert = _weights(llama_family[f"e{i}"])
        for layer in range(3):
            src, dst = f"model.layers.{layer}.mlp.", f"model.layers.{layer}.block_sparse_moe.experts.{i}."
            assert torch.equal(out[dst + "w1.weight"], expert[src + "gate_proj.weight"])
            assert torch.equal(out[dst + "w2.weight"], expert[src + "down_proj.weight"])
            assert torch.equal(out[dst + "w3.weight"], expert[src + "up_proj.weight"])
    assert not any(".mlp." in n for n in out)
    assert (mixtral_cheap.out / "tokenizer.json").is_file() and (mixtral_cheap.out / "modelfusion_moe.yaml").is_file()


def test_cheap_embed_routers(mixtral_cheap, llama_family):
    out = _weights(mixtral_cheap.out)
    embed = _weights(llama_family["base"])["model.embed_tokens.weight"]
    base = llama_family["base"]
    rows = torch.stack(
        [cheap_embed_row(base, embed, p["positive_prompts"], p.get("negative_prompts")) for p in PROMPTS]
    )
    for layer in range(3):
        torch.testing.assert_close(out[f"model.layers.{layer}.block_sparse_moe.gate.weight"], rows)


def test_mixtral_loads_and_generates(mixtral_cheap):
    _generate(mixtral_cheap.out, "MixtralForCausalLM")


@pytest.mark.parametrize("mode", ["hidden", "hidden_avg"])
def test_hidden_routers(mode, llama_family, tmp_path):
    cfg = write_config(tmp_path, moe_config(llama_family, mode, experts=2))
    result = build_moe(cfg, tmp_path / "out", MoEOptions(hidden_dtype="float32"))
    out = _weights(result.out)
    for i in range(2):
        p = PROMPTS[i]
        rows = hidden_rows(llama_family["base"], p["positive_prompts"], p.get("negative_prompts"), mode == "hidden_avg")
        for layer in range(3):
            got = out[f"model.layers.{layer}.block_sparse_moe.gate.weight"][i]
            torch.testing.assert_close(got, rows[layer], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["random", "uniform_random"])
def test_random_routers_are_seeded(mode, llama_family, tmp_path):
    cfg = write_config(tmp_path, moe_config(llama_family, mode, experts=2))
    a = _weights(build_moe(cfg, tmp_path / "a", MoEOptions(seed=7)).out)
    b = _weights(build_moe(cfg, tmp_path / "b", MoEOptions(seed=7)).out)
    c = _weights(build_moe(cfg, tmp_path / "c", MoEOptions(seed=8)).out)
    gates = torch.stack([a[f"model.layers.{i}.block_sparse_moe.gate.weight"] for i in range(3)])
    assert gates.shape == (3, 2, 32)
    assert torch.equal(gates[0], b["model.layers.0.block_sparse_moe.gate.weight"])
    assert not torch.equal(gates[0], c["model.layers.0.block_sparse_moe.gate.weight"])
    if mode == "uniform_random":
        assert gates.abs().max() <= 32**-0.5
    else:
        assert gates.abs().max() > 32**-0.5  # N(0, 1), not the uniform range


def test_noise_and_residual_scale(llama_family, tmp_path):
    config = moe_config(llama_family, "cheap_embed", experts=2)
    config["experts"][0]["residual_scale"] = 0.5
    config["experts"][1]["noise_scale"] = 0.01
    out = _weights(build_moe(write_config(tmp_path, config), tmp_path / "out").out)
    e0, e1 = _weights(llama_family["e0"]), _weights(llama_family["e1"])
    prefix = "model.layers.1.block_sparse_moe.experts."
    torch.testing.assert_close(out[prefix + "0.w2.weight"], 0.5 * e0["model.layers.1.mlp.down_proj.weight"])
    assert torch.equal(out[prefix + "0.w1.weight"], e0["model.layers.1.mlp.gate_proj.weight"])
    noise = out[prefix + "1.w1.weight"] - e1["model.layers.1.mlp.gate_proj.weight"]
    assert 0.008 < float(noise.std()) < 0.012


def test_dtype_is_applied(llama_family, tmp_path):
    cfg = write_config(tmp_path, moe_config(llama_family, "cheap_embed", experts=2, dtype="bfloat16"))
    out = _weights(build_moe(cfg, tmp_path / "out").out)
    assert {t.dtype for t in out.values()} == {torch.bfloat16}
    assert json.loads((tmp_path / "out" / "config.json").read_text())["dtype"] == "bfloat16"
