"""`extract-lora`: a PEFT adapter from a fine-tune's task vector by truncated SVD, loaded back with PEFT."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from modelfusion.errors import UserError
from modelfusion.lora.extract import REPORT_FILE, ExtractOptions, extract_lora
from tests.tiny_models import build_tiny_model


@pytest.fixture(scope="module")
def finetune(lora_root):
    """The tiny Llama with every float tensor moved: low-rank (rank 3) on the linear weights plus a little
    full-rank noise on the first layer's q_proj, full changes on embeddings and norms."""
    folder = lora_root / "llama-ft"
    if not folder.exists():
        model = build_tiny_model("llama", 0)
        g = torch.Generator().manual_seed(7)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if p.dim() == 2 and "embed" not in name:
                    out, inp = p.shape
                    p += torch.randn(out, 3, generator=g) @ torch.randn(3, inp, generator=g) * 0.05
                    if name == "model.layers.0.self_attn.q_proj.weight":
                        p += torch.randn(out, inp, generator=g) * 0.01
                else:
                    p += torch.randn(p.shape, generator=g) * 0.02
        model.save_pretrained(folder)
    return folder


def _peft_merged(base, adapter) -> dict[str, torch.Tensor]:
    from peft import PeftModel

    model = PeftModel.from_pretrained(build_tiny_model("llama", 0), str(adapter))
    return {k: v.detach() for k, v in model.merge_and_unload().state_dict().items()}


def test_full_rank_reproduces_the_finetune(lora_root, finetune):
    out = lora_root / "extract-full"
    extract_lora(finetune, lora_root / "llama", out, ExtractOptions(rank=128, full_modules=True), overwrite=True)
    expected = load_file(str(finetune / "model.safetensors"))
    got = _peft_merged(lora_root / "llama", out)
    worst = max(float((got[n] - expected[n]).abs().max()) for n in expected)
    print(f"full rank: max |W_peft - W_ft| = {worst:.3g}")
    assert worst < 1e-5
    report = json.loads((out / REPORT_FILE).read_text())["modules"]
    assert {r["kind"] for r in report} == {"lora", "saved whole"}
    assert max(r["relative_error"] for r in report) < 1e-5


def test_rank_and_energy(lora_root, finetune):
    out = lora_root / "extract-r3"
    result = extract_lora(finetune, lora_root / "llama", out, ExtractOptions(rank=3), overwrite=True)
    lora = {r.tensor: r for r in result.modules if r.kind == "lora"}
    assert {r.rank for r in lora.values()} == {3}
    noisy = "model.layers.0.self_attn.q_proj.weight"
    assert lora[noisy].relative_error > 1e-3  # the full-rank noise is cut
    assert max(r.relative_error for n, r in lora.items() if n != noisy) < 1e-5  # rank 3 holds the rest
    assert {r.kind for r in result.modules if r.kind != "lora"} == {"skipped"}  # embeddings and norms
    # the written factors reproduce the reported error, computed here from the tensors
    base, ft = load_file(str(lora_root / "llama/model.safetensors")), load_file(str(finetune / "model.safetensors"))
    got = _peft_merged(lora_root / "llama", out)
    delta = ft[noisy] - base[noisy]
    err = float(torch.linalg.norm(got[noisy] - ft[noisy]) / torch.linalg.norm(delta))
    assert math.isclose(err, lora[noisy].relative_error, rel_tol=1e-3)
    assert torch.equal(got["model.norm.weight"], base["model.norm.weight"])  # skipped: the base's

    out = lora_root / "extract-energy"
    result = extract_lora(finetune, lora_root / "llama", out, ExtractOptions(energy=0.999), overwrite=True)
    ranks = {r.tensor: r.rank for r in result.modules if r.kind == "lora"}
    assert ranks[noisy] > 3 and set(ranks.values()) - {ranks[noisy]} <= {3, 2, 1}
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 3 and config["rank_pattern"]  # per-module ranks through rank_pattern
    _peft_merged(lora_root / "llama", out)  # loads


def test_refusals(lora_root, finetune):
    with pytest.raises(UserError, match="--rank"):
        extract_lora(finetune, lora_root / "llama", lora_root / "x", ExtractOptions())
    with pytest.raises(UserError, match=r"tensor names|shape"):
        extract_lora(finetune, lora_root / "gpt2", lora_root / "x", ExtractOptions(rank=2))
    assert not (lora_root / "x").exists()


def test_cli(lora_root, finetune):
    from typer.testing import CliRunner

    from modelfusion.cli.main import app

    out = lora_root / "extract-cli"
    args = ["extract-lora", str(finetune), "--base", str(lora_root / "llama"), str(out), "--rank", "2"]
    result = CliRunner().invoke(app, [*args, "--energy", "0.9", "--full-modules", "--overwrite"])
    assert result.exit_code == 0, result.output
    assert "relative error" in result.output and "saved whole" in result.output and (out / REPORT_FILE).is_file()
    assert CliRunner().invoke(app, args).exit_code == 2  # OUT exists, no --overwrite
