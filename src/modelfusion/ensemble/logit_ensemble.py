"""Ensembles of causal language models that share a vocabulary: combine next-token distributions, generate.

Next-token distribution, with weights w_i (sum normalised to 1):
  combine='proba':     p(t | ctx) = sum_i w_i softmax(z_i / T)_t                   (mixture of the members)
  combine='log_proba': p(t | ctx) = softmax( sum_i w_i log_softmax(z_i / T) )_t    (product of experts; = averaging
                       logits, since each member's per-row log-normaliser cancels in the softmax)
Each member keeps its own KV cache (transformers `past_key_values`), so each step feeds one new token per member.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from modelfusion.errors import UserError

COMBINE = ("proba", "log_proba")


def load_causal_lm(model: Any) -> Any:
    """A model object as is; a local folder through AutoModelForCausalLM (local files only)."""
    if not isinstance(model, (str, Path)):
        return model
    from transformers import AutoModelForCausalLM

    folder = Path(model)
    if not (folder / "config.json").is_file():
        raise UserError("not a Hugging Face model folder (no config.json)", where=str(folder))
    return AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()


def cache_keyword(model: Any) -> str:
    """The KV-cache argument of `model.forward`: 'cache' (transformers >= 5.2x) or 'past_key_values' (older)."""
    import inspect

    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def vocab_size(model: Any) -> int:
    """Width of the model's output logits (its lm_head), which is what must match across members."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is not None and hasattr(head, "weight"):
        return int(head.weight.shape[0])
    return int(model.config.vocab_size)


class LogitEnsemble:
    """Weighted next-token ensemble of causal LMs (objects or local folders) with one shared vocabulary."""

    def __init__(self, models: Sequence[Any], weights: Sequence[float] | None = None, combine: str = "proba") -> None:
        if len(models) == 0:
            raise ValueError("LogitEnsemble needs at least one model")
        if combine not in COMBINE:
            raise ValueError(f"combine must be one of {COMBINE}, got {combine!r}")
        self.models = [load_causal_lm(m) for m in models]
        w = torch.ones(len(self.models)) if weights is None else torch.tensor(weights)
        w = w.to(torch.float64)
        if w.shape != (len(self.models),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"need one weight >= 0 per model (not all 0), got {list(map(float, w.reshape(-1)))}")
        self.weights = w / w.sum()
        self.combine = combine
        sizes = [vocab_size(m) for m in self.models]
        if len(set(sizes)) > 1:
            names = [getattr(m.config, "_name_or_path", "") or type(m).__name__ for m in self.models]
            listing = ", ".join(f"{n}: {s}" for n, s in zip(names, sizes))
            raise UserError(
                f"members have different vocabularies ({listing}); a logit ensemble needs one shared "
                "vocabulary (same tokenizer)",
                where="LogitEnsemble",
            )
        self.vocab_size = sizes[0]

    def combine_logits(self, logits: Sequence[torch.Tensor], temperature: float = 1.0) -> torch.Tensor:
        """Members' last-position logits (each (batch, vocab)) -> ensemble log-probabilities (batch, vocab)."""
        logps = torch.stack([torch.log_softmax(z.double() / temperature, dim=-1) for z in logits])
        w = self.weights.view(-1, 1, 1)
        if self.combine == "proba":
            return torch.logsumexp(logps + torch.log(w), dim=0)
        return torch.log_softmax((w * logps).sum(dim=0), dim=-1)

    @torch.no_grad()
    def next_token_logprobs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """log p(next token | input_ids) of the ensemble, shape (batch, vocab)."""
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        pos = (mask.long().cumsum(-1) - 1).clamp(min=0)
        outs = [m(input_ids=input_ids, attention_mask=mask, position_ids=pos).logits[:, -1] for m in self.models]
        return self.combine_logits(outs)

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        max_new_tokens: int = 20,
        *,
        attention_mask: torch.Tensor | None = None,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_k: int | None = None,
        eos_token_id: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Greedy (argmax) or sampled continuation; returns input_ids with the new tokens appended.

        Prompts of different lengths are left-padded with `attention_mask` 0; finished rows (eos) keep emitting eos.
        """
        if temperature <= 0:
            raise ValueError("temperature must be > 0 (use do_sample=False for greedy decoding)")
        ids = input_ids
        mask = torch.ones_like(ids) if attention_mask is None else attention_mask.clone()
        caches: list[Any] = [None] * len(self.models)
        cache_kw = [cache_keyword(m) for m in self.models]
        step_ids = ids
        done = torch.zeros(ids.shape[0], dtype=torch.bool)
        for _ in range(max_new_tokens):
            pos = (mask.long().cumsum(-1) - 1).clamp(min=0)[:, -step_ids.shape[1] :]
            logits = []
            for i, model in enumerate(self.models):
                kw = {cache_kw[i]: caches[i]}
                out = model(input_ids=step_ids, attention_mask=mask, position_ids=pos, use_cache=True, **kw)
                caches[i] = getattr(out, cache_kw[i])
                logits.append(out.logits[:, -1])
            logp = self.combine_logits(logits, temperature if do_sample else 1.0)
            nxt = self._pick(logp, do_sample, top_k, generator)
            if eos_token_id is not None:
                nxt = torch.where(done, torch.full_like(nxt, eos_token_id), nxt)
                done |= nxt == eos_token_id
            ids = torch.cat([ids, nxt[:, None]], dim=1)
            mask = torch.cat([mask, torch.ones_like(nxt[:, None])], dim=1)
            step_ids = nxt[:, None]
            if eos_token_id is not None and bool(done.all()):
                break
        return ids

    @staticmethod
    def _pick(logp: torch.Tensor, do_sample: bool, top_k: int | None, generator: Any) -> torch.Tensor:
        if not do_sample:
            return logp.argmax(dim=-1)
        if top_k is not None and top_k < logp.shape[-1]:
            kth = logp.topk(top_k, dim=-1).values[:, -1:]
            logp = logp.masked_fill(logp < kth, float("-inf"))
        return torch.multinomial(torch.softmax(logp, dim=-1), 1, generator=generator)[:, 0]
