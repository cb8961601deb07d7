"""Tiny dense models for MoE assembly tests: one word-level tokenizer (with <s> / </s>) shared by a base and its
experts, so prompts tokenize the same for every model."""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "mat",
    "dog",
    "ran",
    "far",
    "a",
    "log",
    "code",
    "python",
    "math",
    "sum",
    "poem",
    "rhyme",
    "story",
    "king",
]
SPECIALS = ["[UNK]", "<s>", "</s>"]


def save_tokenizer(folder: Path) -> None:
    import transformers as tf
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {w: i for i, w in enumerate(SPECIALS + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = tf.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", bos_token="<s>", eos_token="</s>")
    fast.save_pretrained(folder)


def save_dense(folder: Path, kind: str = "llama", seed: int = 0, tie: bool = False, dtype=torch.float32) -> Path:
    """A tiny dense causal LM of `kind` ('llama', 'mistral', 'qwen2') with random weights from `seed`."""
    import transformers as tf

    common = dict(
        vocab_size=len(SPECIALS) + len(WORDS),
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        tie_word_embeddings=tie,
        bos_token_id=1,
        eos_token_id=2,
    )
    config, cls = {
        "llama": (tf.LlamaConfig, tf.LlamaForCausalLM),
        "mistral": (tf.MistralConfig, tf.MistralForCausalLM),
        "qwen2": (tf.Qwen2Config, tf.Qwen2ForCausalLM),
    }[kind]
    torch.manual_seed(seed)
    model = cls(config(**common)).to(dtype).eval()
    with torch.no_grad():  # norms away from 1 so that a copied norm is told from a fresh one
        for name, p in model.named_parameters():
            if "norm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    model.save_pretrained(folder)
    save_tokenizer(folder)
    return folder
