"""Router rows computed independently of modelfusion.moe, from mergekit-moe's definitions (a few lines each)."""

from __future__ import annotations

from pathlib import Path

import torch


def tokens(folder: Path, prompts: list[str]):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    tok.padding_side, tok.pad_token_id = "left", tok.bos_token_id
    return tok([tok.bos_token + p for p in prompts], return_tensors="pt", padding=True, add_special_tokens=False)


def unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp(min=1e-8)


def cheap_embed_row(folder: Path, embed: torch.Tensor, pos: list[str], neg: list[str] | None) -> torch.Tensor:
    """unit(unit(sum of E[t] over pos tokens) - unit(sum over neg tokens)), by one-hot products."""

    def s(prompts):
        enc = tokens(folder, prompts)
        onehot = torch.nn.functional.one_hot(enc["input_ids"], embed.shape[0]).float()
        return unit(torch.einsum("bsv,vh,bs->h", onehot, embed.float(), enc["attention_mask"].float()))

    return unit(s(pos) - (s(neg) if neg else 0))


def hidden_rows(folder: Path, pos: list[str], neg: list[str] | None, average: bool = False) -> torch.Tensor:
    """(layers, hidden): unit(mean over prompts of the state entering each layer at the last (or mean) position,
    positives minus negatives), the base run in float32."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()

    def s(prompts):
        with torch.no_grad():
            states = model(**tokens(folder, prompts), output_hidden_states=True).hidden_states
        per_layer = [h.mean(dim=1) if average else h[:, -1] for h in states[:-1]]
        return torch.stack([p.mean(dim=0) for p in per_layer])

    return unit(s(pos) - (s(neg) if neg else 0))
