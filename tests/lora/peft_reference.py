"""PEFT 0.21's own add_weighted_adapter on the tiny Llama, and the per-module updates B A s of an adapter."""

from __future__ import annotations

from pathlib import Path

import torch

from modelfusion.checkpoint.lora_adapter import LoraAdapter
from modelfusion.lora.merge_adapters import _module_seed
from tests.tiny_models import build_tiny_model


def peft_weighted_merge(
    adapters: list[Path], weights: list[float], kind: str, seed: int | None = None, **kwargs: object
) -> dict[str, torch.Tensor]:
    """{module: B A s} of PEFT's merged adapter. With `seed`, PEFT's global generator is seeded before each
    module's merge with modelfusion's per-module seed, so the dare types draw the same masks."""
    from peft import PeftModel
    from peft.tuners.lora import LoraModel

    model = PeftModel.from_pretrained(build_tiny_model("llama", 0), str(adapters[0]), adapter_name="a0")
    for i, path in enumerate(adapters[1:], 1):
        model.load_adapter(str(path), adapter_name=f"a{i}")
    lora_model = model.base_model
    names = {id(m): n for n, m in lora_model.model.named_modules()}
    for attr in ("_generalized_task_arithmetic_weighted_adapter", "_svd_generalized_task_arithmetic_weighted_adapter"):
        original = getattr(LoraModel, attr)

        def seeded(self, *args, _original=original, **kw):
            if seed is not None:
                target = next(names[id(x)] for x in args if id(x) in names)
                torch.manual_seed(_module_seed(seed, target))
            return _original(self, *args, **kw)

        setattr(lora_model, attr, seeded.__get__(lora_model))
    model.add_weighted_adapter([f"a{i}" for i in range(len(adapters))], weights, "merged", kind, **kwargs)
    out = {}
    for name, module in lora_model.model.named_modules():
        if hasattr(module, "lora_A") and "merged" in module.lora_A:
            a, b = module.lora_A["merged"].weight, module.lora_B["merged"].weight
        elif hasattr(module, "lora_embedding_A") and "merged" in module.lora_embedding_A:
            a, b = module.lora_embedding_A["merged"], module.lora_embedding_B["merged"]
        else:
            continue
        out[name] = (b @ a).detach() * module.scaling["merged"]
    return out


def adapter_updates(folder: Path) -> dict[str, torch.Tensor]:
    """{module: B A s} of an adapter folder, read with modelfusion's adapter reader."""
    adapter = LoraAdapter(folder)
    try:
        return {
            m: (adapter.file.read(d.b).float() @ adapter.file.read(d.a).float()) * d.scale
            for m, d in adapter.deltas.items()
        }
    finally:
        adapter.close()
