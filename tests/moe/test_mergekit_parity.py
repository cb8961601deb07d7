"""Equality with mergekit-moe 0.1.5 on tiny models, for the deterministic gate modes: the same config run
through both, every tensor compared (mergekit writes Mixtral experts fused in transformers 5's in-memory layout,
`mlp.experts.gate_up_proj` = [w1; w3] per expert; modelfusion writes the per-expert Hub layout that
transformers' save_pretrained writes), and config.json compared. mergekit runs as a subprocess (black box)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import torch
from safetensors.torch import load_file

from modelfusion.moe import build_moe
from tests.moe.conftest import moe_config, write_config
from tests.parity.harness import PEER_BIN

MERGEKIT_MOE = PEER_BIN / "mergekit-moe"
pytestmark = [
    pytest.mark.mergekit,
    pytest.mark.skipif(not MERGEKIT_MOE.exists(), reason=f"no {MERGEKIT_MOE} (run `make peers`)"),
]
SHARED = {"positive_prompts": ["the story of a cat"], "negative_prompts": ["python"]}


def _unfused(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """mergekit's fused Mixtral tensors as per-expert Hub names (w1 = gate, w2 = down, w3 = up)."""
    out = {}
    for name, t in tensors.items():
        stem = name.rsplit("mlp.", 1)[0] + "block_sparse_moe."
        if name.endswith("mlp.experts.gate_up_proj"):
            half = t.shape[1] // 2
            for e in range(t.shape[0]):
                out[f"{stem}experts.{e}.w1.weight"], out[f"{stem}experts.{e}.w3.weight"] = t[e, :half], t[e, half:]
        elif name.endswith("mlp.experts.down_proj"):
            out.update({f"{stem}experts.{e}.w2.weight": t[e] for e in range(t.shape[0])})
        elif name.endswith("mlp.gate.weight"):
            out[stem + "gate.weight"] = t
        else:
            out[name] = t
    return out


def _compare(config: dict, tmp_path, fused: bool) -> dict[str, float]:
    cfg = write_config(tmp_path, config)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run(
        [str(MERGEKIT_MOE), str(cfg), str(tmp_path / "mk"), "--device", "cpu"], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]
    build_moe(cfg, tmp_path / "mf")
    theirs = load_file(str(tmp_path / "mk" / "model.safetensors"))
    theirs = _unfused(theirs) if fused else theirs
    ours = load_file(str(tmp_path / "mf" / "model.safetensors"))
    assert set(ours) == set(theirs)
    worst = {"router": 0.0, "other": 0.0}
    for name, t in theirs.items():
        assert ours[name].dtype == t.dtype, name
        kind = "router" if name.endswith(("gate.weight", "shared_expert_gate.weight")) else "other"
        worst[kind] = max(worst[kind], float((ours[name].double() - t.double()).abs().max()))
    a, b = (json.loads((tmp_path / d / "config.json").read_text()) for d in ("mk", "mf"))
    assert {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)} == {}
    return worst


@pytest.mark.parametrize("mode", ["cheap_embed", "hidden", "hidden_avg"])
def test_mixtral_equals_mergekit(mode, llama_family, tmp_path):
    worst = _compare(moe_config(llama_family, mode, experts=2, dtype="float32"), tmp_path, fused=True)
    assert worst == {"router": 0.0, "other": 0.0}


def test_qwen_moe_equals_mergekit(llama_family, tmp_path):
    config = moe_config(llama_family, "cheap_embed", experts=2, dtype="bfloat16")
    # mergekit 0.1.5 opens only the base and the experts: its shared expert must be one of them (here the base)
    config["shared_experts"] = [{"source_model": str(llama_family["base"]), **SHARED}]
    worst = _compare(config, tmp_path, fused=False)
    assert worst == {"router": 0.0, "other": 0.0}
