"""Tiny PEFT LoRA adapters made in tests, with PEFT's own merge_and_unload() of each as the expected weights."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.tiny_models import build_tiny_model


def make_adapter(kind: str, base_seed: int, folder: Path, seed: int, **lora: object) -> dict[str, torch.Tensor]:
    """Save a LoRA adapter (random A and B, so the update is not zero) for the tiny `kind` model of `base_seed`
    into `folder`; return PEFT's merge_and_unload() state dict of base + adapter (float32)."""
    from peft import LoraConfig, get_peft_model

    model = build_tiny_model(kind, base_seed)
    torch.manual_seed(seed)
    peft_model = get_peft_model(model, LoraConfig(init_lora_weights=False, **lora))
    with torch.no_grad():  # make lora_B.bias (lora_bias) non-zero, and modules_to_save differ from the base
        for name, p in peft_model.named_parameters():
            if "lora_B" in name and name.endswith("bias"):
                p.normal_()
            elif "modules_to_save" in name:
                p.add_(torch.randn_like(p))
    peft_model.save_pretrained(folder)
    merged = peft_model.merge_and_unload()
    return {k: v.detach().clone() for k, v in merged.state_dict().items()}
