"""Tiny models of the other architectures mergekit 0.1.5's tests use (its tests/common.py: LLaVA, GPT-2, Granite)
plus T5 (an architecture mergekit defines in modules: encoder, decoder, shared), each as a base and fine-tunes
(base + noise, as tests/parity/harness.py) saved as HF folders, with bfloat16 copies for the float32 references.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from tests.parity.harness import NOISE, _half_copy, _without_magnitude_ties


def _llava():
    import transformers as tf

    vision = tf.CLIPVisionConfig(
        image_size=32, patch_size=4, num_hidden_layers=2, num_attention_heads=2, hidden_size=64, intermediate_size=128
    )
    text = tf.LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_attention_heads=16, num_hidden_layers=2
    )
    config = tf.LlavaConfig(vision_config=vision, text_config=text, image_seq_length=16)
    return tf.LlavaForConditionalGeneration(config)


def _granite():
    import transformers as tf

    config = tf.GraniteConfig(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_attention_heads=2, num_key_value_heads=2,
        num_hidden_layers=2,
    )  # fmt: skip
    return tf.GraniteForCausalLM(config)


def _gpt2():
    import transformers as tf

    ids = {"bos_token_id": 0, "eos_token_id": 0}
    config = tf.GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=4, n_positions=64, **ids)
    return tf.GPT2LMHeadModel(config)


def _t5():
    import transformers as tf

    config = tf.T5Config(
        vocab_size=64, d_model=32, d_kv=8, d_ff=48, num_layers=2, num_decoder_layers=2, num_heads=4,
        feed_forward_proj="gated-gelu", tie_word_embeddings=False,
    )  # fmt: skip
    return tf.T5ForConditionalGeneration(config)


BUILDERS = {"vlm": _llava, "granite": _granite, "gpt2": _gpt2, "t5": _t5}
"""kind -> a random tiny model; saved as `<kind>_base`, `<kind>_ft1`, `<kind>_ft2`."""


def build_arch_models(root: Path) -> dict[str, Path]:
    """`<kind>_base`, `<kind>_ft1`, `<kind>_ft2` (and their `_bf16` copies) for every kind of BUILDERS."""
    paths: dict[str, Path] = {}
    for kind, make in BUILDERS.items():
        torch.manual_seed(0)
        base = root / f"{kind}_base"
        make().save_pretrained(base, safe_serialization=True)
        paths[f"{kind}_base"] = base
        weights = load_file(str(base / "model.safetensors"))
        for i in (1, 2):
            g = torch.Generator().manual_seed(2000 + i)
            ft = {}
            for name, t in weights.items():
                std = float(t.float().std()) if t.numel() > 1 else 0.0
                ft[name] = _without_magnitude_ties(t, NOISE * (std if std > 0 else 1.0), g)
            folder = root / f"{kind}_ft{i}"
            folder.mkdir(parents=True, exist_ok=True)
            save_file(ft, str(folder / "model.safetensors"), metadata={"format": "pt"})
            shutil.copy(base / "config.json", folder / "config.json")
            paths[f"{kind}_ft{i}"] = folder
    for name in list(paths):
        paths[f"{name}_bf16"] = _half_copy(paths[name], root / f"{name}_bf16", torch.bfloat16)
    return paths
