"""Diagonal Fisher information of every parameter, from per-example gradients of the log-likelihood.

    F = (1 / N) sum_n (d/d theta log p(y_n | x_n))^2        (entrywise, over the N examples)

Matena & Raffel 2022, "Merging models with Fisher-weighted averaging" (arXiv:2111.09832), eq. (3) with one
sample: y_n drawn from the model's own prediction p(. | x_n) (the true Fisher, the default), or the labels the
user gave (the empirical Fisher). One example per backward pass, so gradients are never mixed across examples.

- a classifier (logits [1, C]): log p(y | x) of one label;
- a language model (logits [1, S, V]): the sum over real tokens (attention_mask 1) of log p(y_t | x, t), y_t
  sampled at each position; given labels follow transformers' causal-LM convention (logits at t predict
  labels at t + 1, -100 ignored) unless shift_labels is False.
Entry name: `fisher:<parameter name>`, the parameter's shape (tied parameters once, under their first name).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from modelfusion.calibrate.data import Batch
from modelfusion.calibrate.forward import logits_of, run_model
from modelfusion.errors import UserError

IGNORE_INDEX = -100


def log_likelihood(
    logits: torch.Tensor,
    batch: Batch,
    *,
    use_labels: bool,
    shift_labels: bool,
    generator: torch.Generator,
) -> torch.Tensor:
    """log p(y | x) of one example (a batch of one), y sampled or given (module docstring)."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    if use_labels:
        if batch.labels is None:
            raise UserError("Fisher with labels: a batch has no labels (give `labels`, or sample them)")
        labels = batch.labels.to(logits.device)
        if log_probs.dim() == 3 and shift_labels:
            log_probs, labels = log_probs[:, :-1], labels[:, 1:]
        valid = labels != IGNORE_INDEX
        picked = log_probs.gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
        return (picked * valid).sum()
    probs = log_probs.detach().exp().reshape(-1, log_probs.shape[-1]).cpu()
    sampled = torch.multinomial(probs, 1, generator=generator).to(logits.device)
    picked = log_probs.reshape(-1, log_probs.shape[-1]).gather(-1, sampled).squeeze(-1)
    mask = batch.mask
    if mask is not None and log_probs.dim() == 3 and mask.numel() == picked.numel():
        picked = picked * (mask.reshape(-1).to(picked.device) != 0)
    return picked.sum()


def fisher_statistics(
    model: nn.Module,
    batches: list[Batch],
    *,
    use_labels: bool = False,
    shift_labels: bool = True,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> dict[str, torch.Tensor]:
    """`fisher:<name>` -> the diagonal Fisher of every trainable parameter (float32, on the CPU)."""
    params = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not params:
        raise UserError("the model has no trainable parameters to compute a Fisher for")
    totals = {name: torch.zeros_like(p, dtype=torch.float32) for name, p in params}
    generator = torch.Generator().manual_seed(seed)
    examples = 0
    for batch in batches:
        for i in range(batch.size):
            example = batch.example(i)
            model.zero_grad(set_to_none=True)
            logits = logits_of(run_model(model, example))
            log_likelihood(
                logits, example, use_labels=use_labels, shift_labels=shift_labels, generator=generator
            ).backward()
            for name, p in params:
                if p.grad is not None:
                    totals[name].addcmul_(p.grad.float(), p.grad.float())
            examples += 1
        if progress is not None:
            progress(1)
    model.zero_grad(set_to_none=True)
    return {f"fisher:{name}": (t / examples).cpu() for name, t in totals.items()}
