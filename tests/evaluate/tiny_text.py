"""A tiny BERT with a tiny WordPiece tokenizer (built with `tokenizers`), and tiny synthetic text tasks."""

from __future__ import annotations

import random
from pathlib import Path

from modelfusion.evaluate import Example, SplitSizes, TextTask, make_task
from tests.tiny_models import save_tiny_model

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
WORDS = [
    *("red", "blue", "green", "cat", "dog", "fish", "car", "bus", "train", "sun", "moon", "star", "apple", "pear"),
    *("plum", "the", "a", "and", "of", "is", "on", "in", "big", "small", "very", "quite", "fast", "slow", "happy"),
    *("sad", "old", "new"),
]


def save_tiny_tokenizer(folder: Path) -> None:
    """A lower-casing WordPiece tokenizer over WORDS (ids < 128, the tiny BERT's vocabulary) for AutoTokenizer."""
    import transformers
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {w: i for i, w in enumerate(SPECIALS + WORDS)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    fast.save_pretrained(folder)


def save_tiny_encoder(folder: Path, seed: int = 0) -> Path:
    """A tiny random BertModel (hidden 32, 2 layers) with the tiny tokenizer, as a Hugging Face folder."""
    save_tiny_model("bert", folder, seed)
    save_tiny_tokenizer(folder)
    return folder


def keyword_task(name: str, keywords: dict[str, str], n_per_class: int = 20, seed: int = 0) -> TextTask:
    """Texts of 4-7 filler words plus one keyword; the label is the keyword's class."""
    rng = random.Random(seed)
    fillers = [w for w in WORDS if w not in keywords]
    examples = []
    for word, label in keywords.items():
        for _ in range(n_per_class):
            words = rng.sample(fillers, rng.randint(4, 7))
            words.insert(rng.randint(0, len(words)), word)
            examples.append(Example(" ".join(words), label))
    return make_task(name, f"tiny {name}", examples, SplitSizes(0.25, 0.25), seed)
