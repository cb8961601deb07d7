"""A tiny random BertForSequenceClassification + word-level tokenizer saved to a folder (no downloads)."""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = [
    "good",
    "great",
    "fine",
    "nice",
    "happy",
    "bad",
    "awful",
    "poor",
    "sad",
    "terrible",
    "movie",
    "film",
    "plot",
    "actor",
    "the",
    "a",
    "is",
    "was",
    "very",
    "not",
]


def save_tiny_text_classifier(folder: Path, seed: int = 0, num_labels: int = 2) -> Path:
    import transformers as tf
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    fast = tf.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    config = tf.BertConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=64,
        num_labels=num_labels,
    )
    torch.manual_seed(seed)
    model = tf.BertForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder
