"""Build and save tiny random transformers models (hidden 32-64, 2-4 layers) for tests."""

from __future__ import annotations

from pathlib import Path

import torch


def _config(kind: str):
    import transformers as tf

    if kind == "llama":
        return tf.LlamaConfig(
            vocab_size=128,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=64,
            tie_word_embeddings=False,
        ), tf.LlamaForCausalLM
    if kind == "bert":
        return tf.BertConfig(
            vocab_size=128,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=64,
        ), tf.BertModel
    if kind == "gpt2":
        return tf.GPT2Config(vocab_size=128, n_embd=32, n_layer=2, n_head=4, n_positions=64), tf.GPT2LMHeadModel
    raise ValueError(kind)


def build_tiny_model(kind: str, seed: int = 0):
    config, cls = _config(kind)
    torch.manual_seed(seed)
    model = cls(config).eval()
    return model


def save_tiny_model(kind: str, folder: Path, seed: int = 0, safe: bool = True) -> Path:
    """Save a tiny model of `kind` ('llama', 'bert', 'gpt2') with random weights from `seed`."""
    model = build_tiny_model(kind, seed)
    model.save_pretrained(folder, safe_serialization=safe)
    return folder
