"""A client's local training, shared by the built-in tasks: seeded mini-batches, an optimiser, cross-entropy.

One round of local training runs `epochs` passes over the client's examples in seeded random order, in batches of
`batch_size`, stopping early after `max_steps` optimiser steps when set (cheap rounds on large partitions). The
optimiser (SGD, or AdamW with weight decay 0.01) starts afresh each round: clients keep no state between rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch

from modelfusion.federated.config import Local


def batch_indices(n: int, local: Local, seed: int) -> Iterator[torch.Tensor]:
    """Index batches of one round: epochs of seeded permutations of range(n), at most `max_steps` batches."""
    g = torch.Generator().manual_seed(seed)
    steps = 0
    for _ in range(local.epochs):
        for batch in torch.randperm(n, generator=g).split(local.batch_size):
            if local.max_steps is not None and steps >= local.max_steps:
                return
            steps += 1
            yield batch


def optimizer(params: Iterable[torch.nn.Parameter], local: Local) -> torch.optim.Optimizer:
    if local.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=local.lr, weight_decay=0.01)
    return torch.optim.SGD(params, lr=local.lr)


def fit(
    params: Iterable[torch.nn.Parameter],
    logits_of: Callable[[torch.Tensor], torch.Tensor],
    targets: torch.Tensor,
    local: Local,
    seed: int,
) -> int:
    """Minimise mean cross-entropy of logits_of(batch indices) against targets[batch]; returns examples seen."""
    opt = optimizer(params, local)
    seen = 0
    for batch in batch_indices(len(targets), local, seed):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(logits_of(batch), targets[batch]).backward()
        opt.step()
        seen += len(batch)
    return seen
