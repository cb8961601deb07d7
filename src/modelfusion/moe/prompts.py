"""Expert prompts turned into the per-layer summaries that router rows are made of (modelfusion.moe.gates).

Tokenization is mergekit-moe's: the base's tokenizer, each prompt prefixed with the BOS token's text, no other
special tokens, padded on the left with BOS (EOS when there is no BOS). Hidden states come from running the base
model through calibrate/ (the only code that runs models), in bfloat16 by default as mergekit does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from modelfusion.errors import UserError
from modelfusion.moe.gates import cheap_embedding, hidden_summary

Summarize = Callable[[list[str]], torch.Tensor]
"""A prompt set -> its (layers, hidden) summary s_l(P)."""


def prompt_tokenizer(folder: Path):
    """The base's tokenizer, set up for prompts as mergekit does (left padding with BOS, else EOS)."""
    from modelfusion.calibrate import load_tokenizer

    tok = load_tokenizer(folder)
    tok.padding_side = "left"
    tok.pad_token_id = tok.bos_token_id
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def tokenize(tokenizer, prompts: list[str], where: str) -> dict[str, torch.Tensor]:
    try:
        texts = [(tokenizer.bos_token or "") + p for p in prompts]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    except ValueError as e:  # no pad token for prompts of different lengths
        raise UserError(f"cannot tokenize the expert prompts: {e}", where=where) from None
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def cheap_embed_summarizer(tokenizer, embed: torch.Tensor, layers: int, where: str) -> Summarize:
    """s(P) from the base's input embedding matrix `embed` (vocab x hidden)."""

    def summarize(prompts: list[str]) -> torch.Tensor:
        enc = tokenize(tokenizer, prompts, where)
        if int(enc["input_ids"].max()) >= embed.shape[0]:
            raise UserError("the tokenizer gives ids beyond the embedding matrix", where=where)
        return cheap_embedding(embed, enc["input_ids"], enc["attention_mask"], layers)

    return summarize


def hidden_summarizer(
    tokenizer, folder: Path, average: bool, dtype: torch.dtype, device: str, where: str
) -> tuple[Summarize, Callable[[], None]]:
    """s_l(P) from the base model's hidden states (the inputs of its layers: embeddings, then the output of every
    layer but the last); also a function that frees the model."""
    from modelfusion.calibrate import Batch, load_model
    from modelfusion.calibrate.forward import run_model

    model = load_model(folder).to(device=device)
    for param in model.parameters():  # parameters only: buffers (rotary frequencies) stay float32, as in a model
        param.data = param.data.to(dtype)  # loaded with from_pretrained(dtype=...)
    model.config.output_hidden_states = True

    def summarize(prompts: list[str]) -> torch.Tensor:
        with torch.no_grad():
            out = run_model(model, Batch(tokenize(tokenizer, prompts, where)))
        hidden = getattr(out, "hidden_states", None)
        if hidden is None:
            raise UserError("the base model returns no hidden states", where=where)
        return hidden_summary(torch.stack(hidden[:-1]), average).cpu()

    def release() -> None:
        nonlocal model
        model = None

    return summarize, release
