"""Tiny Llama models with their own word-level tokenizers (different vocabularies), built with `tokenizers`."""

from __future__ import annotations

from pathlib import Path

import torch

SPECIALS = ["[UNK]", "[PAD]"]


def save_word_tokenizer(folder: Path, words: list[str]) -> dict[str, int]:
    """A WordLevel tokenizer over SPECIALS + words (ids in that order), saved as a transformers tokenizer."""
    import transformers as tf
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {w: i for i, w in enumerate(SPECIALS + words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = tf.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]")
    fast.save_pretrained(folder)
    return vocab


def save_worded_llama(folder: Path, words: list[str], seed: int, tie: bool = False, layers: int = 2) -> Path:
    """A tiny Llama whose vocabulary is exactly SPECIALS + `words` (embedding rows = tokens)."""
    import transformers as tf

    vocab = save_word_tokenizer(folder, words)
    config = tf.LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        tie_word_embeddings=tie,
    )
    torch.manual_seed(seed)
    tf.LlamaForCausalLM(config).save_pretrained(folder)
    return folder


WORDS = {
    "a": ["the", "cat", "sat", "on", "mat"],
    "b": ["the", "dog", "sat", "on", "log", "a"],
    "c": ["a", "cat", "dog", "ran", "far"],
    "f": ["mat", "on", "sat", "cat", "the"],  # a's words, other ids
}
