"""`model: BASE+ADAPTER` applies a PEFT LoRA adapter on the fly: the result equals PEFT's merge_and_unload()."""

from __future__ import annotations

import os
import shutil

import pytest
import torch
from safetensors.torch import load_file

from modelfusion import merge
from modelfusion.checkpoint import open_checkpoint
from modelfusion.checkpoint.lora_applied import apply_lora
from modelfusion.errors import CheckpointError, PlanError, UserError

TOL = {"rtol": 0, "atol": 1e-6}


def _passthrough(model: str) -> dict:
    return {"merge_method": "passthrough", "dtype": "float32", "models": [{"model": model}]}


def _check_equal(out_dir, expected: dict[str, torch.Tensor]) -> None:
    got = load_file(str(out_dir / "model.safetensors"))
    assert got, "nothing written"
    for name, tensor in got.items():
        torch.testing.assert_close(tensor, expected[name], **TOL)


def test_passthrough_of_base_plus_adapter_equals_peft_merge(lora_root, llama_adapters, monkeypatch):
    monkeypatch.chdir(lora_root)  # mergekit's relative form: ./base+./adapter
    for name, expected in llama_adapters.items():
        out = lora_root / f"out-{name}"
        merge(_passthrough(f"./llama+./{name}"), out, threads=1)
        _check_equal(out, expected)
        base = load_file(str(lora_root / "llama" / "model.safetensors"))
        changed = [n for n, t in load_file(str(out / "model.safetensors")).items() if not torch.equal(t, base[n])]
        assert changed  # the adapter did something


def test_linear_merge_of_two_adapted_models(lora_root, llama_adapters):
    recipe = lora_root / "two-loras.yaml"
    recipe.write_text(
        "merge_method: linear\ndtype: float32\nmodels:\n"
        "  - model: llama+lora1\n    parameters: {weight: 1.0}\n"
        "  - model: llama+lora2\n    parameters: {weight: 3.0}\n",
        encoding="utf-8",
    )
    out = lora_root / "out-linear"
    merge(recipe, out, threads=2)  # paths relative to the recipe's folder
    a, b = llama_adapters["lora1"], llama_adapters["lora2"]
    _check_equal(out, {n: (a[n] + 3.0 * b[n]) / 4.0 for n in a})


def test_gpt2_conv1d_fan_in_fan_out_and_lora_bias(lora_root, gpt2_adapter):
    out = lora_root / "out-gpt2"
    merge(_passthrough(f"{lora_root / 'gpt2'}+{lora_root / 'gpt2-lora'}"), out, threads=1)
    _check_equal(out, gpt2_adapter)
    base = load_file(str(lora_root / "gpt2" / "model.safetensors"))
    got = load_file(str(out / "model.safetensors"))
    assert not torch.equal(got["transformer.h.0.attn.c_attn.bias"], base["transformer.h.0.attn.c_attn.bias"])


@pytest.mark.parametrize("tensor", ["model.layers.0.self_attn.q_proj.weight", "model.embed_tokens.weight"])
def test_row_blocks_equal_the_whole_tensor(lora_root, llama_adapters, tensor):
    with apply_lora(open_checkpoint(lora_root / "llama"), lora_root / "lora1", "x") as ckpt:
        whole = ckpt.read(tensor)
        torch.testing.assert_close(whole, llama_adapters["lora1"][tensor], **TOL)
        torch.testing.assert_close(ckpt.read_rows(tensor, slice(3, 11)), whole[3:11], **TOL)


def test_base_with_another_model_prefix(lora_root, llama_adapters, tmp_path):
    """An adapter trained on LlamaForCausalLM applied to a base saved without the `model.` prefix."""
    sd = load_file(str(lora_root / "llama" / "model.safetensors"))
    from safetensors.torch import save_file

    bare = tmp_path / "bare"
    bare.mkdir()
    save_file(
        {n.removeprefix("model."): t for n, t in sd.items() if n.startswith("model.")}, str(bare / "model.safetensors")
    )
    with apply_lora(open_checkpoint(bare), lora_root / "lora2", "x") as ckpt:
        name = "layers.0.self_attn.k_proj.weight"
        torch.testing.assert_close(ckpt.read(name), llama_adapters["lora2"]["model." + name], **TOL)


def test_adapter_is_an_input_of_the_resume_fingerprint(lora_root):
    with apply_lora(open_checkpoint(lora_root / "llama"), lora_root / "lora1", "x") as ckpt:
        files = ckpt.source_files()
    assert str(lora_root / "lora1" / "adapter_config.json") in files
    assert str(lora_root / "lora1" / "adapter_model.safetensors") in files
    assert str(lora_root / "llama" / "model.safetensors") in files


def test_adapter_folder_as_a_model_is_refused_with_the_form_to_write(lora_root, llama_adapters):
    recipe = {
        "merge_method": "linear",
        "models": [{"model": str(lora_root / "llama")}, {"model": str(lora_root / "lora1")}],
    }
    with pytest.raises(UserError) as e:
        merge(recipe, lora_root / "never", threads=1)
    message = str(e.value)
    assert "PEFT LoRA adapter, not a full model" in message and f"model: BASE+{lora_root / 'lora1'}" in message
    assert "\n" not in message
    assert not (lora_root / "never").exists()
    with pytest.raises(CheckpointError, match="PEFT LoRA adapter"):
        open_checkpoint(lora_root / "lora1" / "adapter_model.safetensors")


def test_cli_refusal_is_one_line_exit_2(lora_root, llama_adapters, tmp_path):
    from tests.hostile.conftest import run_cli

    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"merge_method: passthrough\nmodels:\n  - model: {lora_root / 'lora1'}\n", encoding="utf-8")
    result = run_cli("merge", recipe, tmp_path / "out")
    assert result.exit_code == 2 and result.exception is None
    assert "BASE+" in result.output and "Traceback" not in result.output


def _copy_adapter(src, dst, **config_changes):
    import json

    shutil.copytree(src, dst)
    cfg = json.loads((dst / "adapter_config.json").read_text())
    cfg.update(config_changes)
    (dst / "adapter_config.json").write_text(json.dumps(cfg))
    return dst


def test_dora_is_refused(lora_root, llama_adapters, tmp_path):
    dora = _copy_adapter(lora_root / "lora2", tmp_path / "dora", use_dora=True)
    with pytest.raises(UserError, match=r"DoRA adapter \(use_dora: true\).*merge_and_unload"):
        merge(_passthrough(f"{lora_root / 'llama'}+{dora}"), tmp_path / "out", threads=1)


def test_adapter_of_another_model_is_refused(lora_root, llama_adapters, gpt2_adapter, tmp_path):
    with pytest.raises(UserError, match=r"none of the adapter's .* target tensor"):
        merge(_passthrough(f"{lora_root / 'llama'}+{lora_root / 'gpt2-lora'}"), tmp_path / "out", threads=1)


def test_missing_side_of_base_plus_adapter_is_named(lora_root, tmp_path):
    with pytest.raises(PlanError, match="its adapter 'nowhere' not found"):
        merge(_passthrough(f"{lora_root / 'llama'}+nowhere"), tmp_path / "out", threads=1)


def test_a_path_holding_a_plus_is_a_path(lora_root, tmp_path):
    odd = tmp_path / "llama+v2"
    shutil.copytree(lora_root / "llama", odd)
    merge(_passthrough(str(odd)), tmp_path / "out", threads=1)
    assert os.path.exists(tmp_path / "out" / "model.safetensors")


def test_adapter_on_an_earlier_stage(lora_root, llama_adapters, tmp_path):
    """`STAGE+ADAPTER`: the adapter applied to an earlier stage's output (planned first, then read from disk)."""
    recipe = tmp_path / "stages.yaml"
    recipe.write_text(
        f"name: base\nmerge_method: passthrough\ndtype: float32\nmodels:\n  - model: {lora_root / 'llama'}\n"
        f"---\nmerge_method: passthrough\ndtype: float32\nmodels:\n  - model: base+{lora_root / 'lora1'}\n",
        encoding="utf-8",
    )
    merge(recipe, tmp_path / "out", threads=1, cache_dir=tmp_path / "cache")
    _check_equal(tmp_path / "out", llama_adapters["lora1"])
