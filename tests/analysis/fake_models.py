"""Hand-made checkpoints (a few named tensors + config.json) for the analysis tests."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "num_hidden_layers": 2, "vocab_size": 3}


def save_model(folder: Path, tensors: dict[str, torch.Tensor], config: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config or CONFIG), encoding="utf-8")
    return folder


def three_models(root: Path) -> tuple[Path, Path, Path]:
    """A base and two fine-tunes whose task vectors are set by hand, in two layers and outside them.

    layer 0 attention: tau1 = [3, -1, 2, 0, 1, -2], tau2 = [1.5, 1, -4, 2, 0, -0.5] (see test_task_vectors)
    layer 1 mlp:       tau1 = [1, 1], tau2 = [2, 2] (same direction: cosine 1, no conflicts)
    embeddings:        tau1 = [1, 0, 0], tau2 = [0, 1, 0] (orthogonal: cosine 0)
    """
    base = {
        "model.embed_tokens.weight": torch.ones(3, 1),
        "model.layers.0.self_attn.q_proj.weight": torch.ones(2, 3),
        "model.layers.1.mlp.up_proj.weight": torch.ones(2),
        "model.layers.1.position_ids": torch.arange(2),
    }
    taus = [
        {
            "model.embed_tokens.weight": torch.tensor([[1.0], [0.0], [0.0]]),
            "model.layers.0.self_attn.q_proj.weight": torch.tensor([[3.0, -1.0, 2.0], [0.0, 1.0, -2.0]]),
            "model.layers.1.mlp.up_proj.weight": torch.tensor([1.0, 1.0]),
        },
        {
            "model.embed_tokens.weight": torch.tensor([[0.0], [1.0], [0.0]]),
            "model.layers.0.self_attn.q_proj.weight": torch.tensor([[1.5, 1.0, -4.0], [2.0, 0.0, -0.5]]),
            "model.layers.1.mlp.up_proj.weight": torch.tensor([2.0, 2.0]),
        },
    ]
    paths = [save_model(root / "base", base)]
    for i, tau in enumerate(taus, start=1):
        tuned = {k: v + tau[k] if k in tau else v for k, v in base.items()}
        paths.append(save_model(root / f"ft{i}", tuned))
    return paths[0], paths[1], paths[2]
