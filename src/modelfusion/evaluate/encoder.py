"""A sentence encoder from a local Hugging Face folder: AutoModel + AutoTokenizer, mean pooling.

Mean pooling as sentence-transformers: e = sum_t m_t h_t / max(sum_t m_t, 1e-9), with h the last hidden states
and m the attention mask. Nothing is ever downloaded: folders are opened with local_files_only=True.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from modelfusion.errors import UserError


class Tokenizing(Protocol):
    """Anything with a tokenizer and a max_length: an Encoder or a Classifier."""

    tokenizer: Any
    max_length: int


@dataclass
class Encoder:
    """A transformers encoder model and its tokenizer."""

    model: Any
    tokenizer: Any
    max_length: int = 64
    source: Path | None = None
    """The folder it was loaded from."""

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)


def load_encoder(folder: str | Path, max_length: int = 64) -> Encoder:
    """Load the encoder and tokenizer saved in `folder` (config.json, weights, tokenizer files)."""
    model, tokenizer = load_hf_folder(Path(folder), "AutoModel")
    return Encoder(model=model, tokenizer=tokenizer, max_length=max_length, source=Path(folder))


def load_hf_folder(folder: Path, auto_class: str) -> tuple[Any, Any]:
    """(model in eval mode, tokenizer) from a local Hugging Face folder; `auto_class` names a transformers class."""
    if not (folder / "config.json").is_file():
        raise UserError("not a Hugging Face model folder (no config.json)", where=str(folder))
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = getattr(transformers, auto_class).from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot load the model or tokenizer: {e}", where=str(folder)) from None
    return model.eval(), tokenizer


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mask-weighted mean over the sequence axis: (batch, seq, dim), (batch, seq) -> (batch, dim)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def batches(encoder: Tokenizing, texts: Sequence[str], batch_size: int) -> Iterator[tuple[list[int], dict]]:
    """Tokenized batches of `texts` grouped by length (less padding); yields (positions in `texts`, inputs)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        yield idx, tokenize(encoder, [texts[i] for i in idx])


def tokenize(encoder: Tokenizing, texts: Sequence[str]) -> dict:
    """Token ids and attention mask of `texts`, truncated to max_length and padded to the longest."""
    tok = encoder.tokenizer
    return dict(tok(list(texts), truncation=True, max_length=encoder.max_length, padding=True, return_tensors="pt"))


def embed(encoder: Encoder, inputs: dict) -> torch.Tensor:
    """Mean-pooled embeddings of one tokenized batch (gradients flow if enabled)."""
    hidden = encoder.model(**inputs).last_hidden_state
    return mean_pool(hidden, inputs["attention_mask"])


@torch.no_grad()
def embed_texts(encoder: Encoder, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
    """Embeddings of all `texts` in their order, shape (len(texts), hidden_size)."""
    out = torch.empty(len(texts), encoder.hidden_size)
    encoder.model.eval()
    for idx, inputs in batches(encoder, texts, batch_size):
        out[idx] = embed(encoder, inputs).float()
    return out
