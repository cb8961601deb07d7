"""The routers of every layer, (layers x gated experts x hidden), for the config's gate mode
(the math: modelfusion.moe.gates; the prompt summaries: modelfusion.moe.prompts)."""

from __future__ import annotations

from pathlib import Path

import torch

from modelfusion.checkpoint import Checkpoint
from modelfusion.errors import CheckpointError
from modelfusion.moe.config import DTYPES, Expert, MoEConfig
from modelfusion.moe.gates import random_gates, router_rows, uniform_random_gates
from modelfusion.moe.prompts import cheap_embed_summarizer, hidden_summarizer, prompt_tokenizer

EMBED = "model.embed_tokens.weight"


def compute_routers(
    config: MoEConfig,
    gated: list[Expert],
    base: Checkpoint,
    base_folder: Path,
    layers: int,
    hidden: int,
    options,
    where: str,
) -> torch.Tensor:
    """Rows in `gated` order (the experts, then the shared expert when it is gated). Random modes draw from a
    generator seeded with `options.seed`; prompt modes give g_{l,e} = normalize(s_l(pos_e) - s_l(neg_e))."""
    mode = config.gate_mode
    if mode in ("random", "uniform_random"):
        draw = random_gates if mode == "random" else uniform_random_gates
        return draw(layers, len(gated), hidden, torch.Generator().manual_seed(options.seed))
    tokenizer = prompt_tokenizer(base_folder)
    release = None
    if mode == "cheap_embed":
        if EMBED not in base.infos:
            raise CheckpointError(f"cheap_embed reads '{EMBED}', which the base does not have", where=base.label)
        summarize = cheap_embed_summarizer(tokenizer, base.read(EMBED), layers, where)
    else:
        dtype = DTYPES[options.hidden_dtype]
        summarize, release = hidden_summarizer(
            tokenizer, base_folder, mode == "hidden_avg", dtype, options.device, where
        )
    try:
        rows = []
        for expert in gated:
            positive = summarize(list(expert.positive_prompts or []))
            negative = summarize(list(expert.negative_prompts)) if expert.negative_prompts else None
            rows.append(router_rows(positive, negative))
    finally:
        if release is not None:
            release()
    return torch.stack(rows, dim=1)  # (layers, experts, hidden)
