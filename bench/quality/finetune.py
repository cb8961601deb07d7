"""Training a task's classifier: a linear probe on a frozen encoder, and full fine-tuning of encoder + head.

Probe: minimise mean cross-entropy(W e_i + b, y_i) + wd * |W|^2 over fixed embeddings e_i (full-batch Adam).
Fine-tune (LP-FT, Kumar et al. 2022): start the head from the probe, then train every encoder weight and the head
with AdamW, learning rate decayed linearly to 0, on shuffled mini-batches. Starting from the probe keeps the
encoder's update (the task vector) small, which is what weight-space merging needs.

This is the benchmark's recipe for making task models to merge, not a library feature: modelfusion merges
fine-tunes, it does not make them. Saving and caching the results is `bench.quality.store`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch

from modelfusion.evaluate import ClassificationHead, Encoder, TextTask, embed, embed_texts, tokenize


@dataclass(frozen=True)
class FinetuneConfig:
    """Hyper-parameters of fine-tuning; the defaults suit all-MiniLM-L6-v2 on a few hundred examples."""

    epochs: int = 2
    batch_size: int = 16
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    probe_steps: int = 300
    probe_learning_rate: float = 1e-2
    probe_weight_decay: float = 1e-4
    seed: int = 0


def train_probe(
    embeddings: torch.Tensor, targets: list[int], labels: tuple[str, ...], config: FinetuneConfig
) -> ClassificationHead:
    """A linear head fitted on fixed `embeddings` (n, d) for class indices `targets`."""
    torch.manual_seed(config.seed)
    head = ClassificationHead(embeddings.shape[1], labels)
    y = torch.tensor(targets)
    opt = torch.optim.Adam(head.parameters(), lr=config.probe_learning_rate)
    for _ in range(config.probe_steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(embeddings), y)
        loss = loss + config.probe_weight_decay * head.linear.weight.square().sum()
        loss.backward()
        opt.step()
    return head.eval()


def probe_task(encoder: Encoder, task: TextTask, config: FinetuneConfig) -> ClassificationHead:
    """Linear probe of `task` on the frozen `encoder` (its train split)."""
    return train_probe(embed_texts(encoder, task.texts("train")), task.targets("train"), task.labels, config)


def finetune(
    encoder: Encoder, task: TextTask, config: FinetuneConfig, head: ClassificationHead | None = None
) -> ClassificationHead:
    """Fine-tune `encoder.model` in place (all weights) with a head (the probe's, unless given) on the train split.

    Returns the trained head. Deterministic for a given seed and thread count.
    """
    head = head if head is not None else probe_task(encoder, task, config)
    texts, targets = task.texts("train"), task.targets("train")
    params = list(encoder.model.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    steps = config.epochs * math.ceil(len(texts) / config.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / max(steps, 1)))
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    encoder.model.train()
    head.train()
    for _ in range(config.epochs):
        order = list(range(len(texts)))
        rng.shuffle(order)
        for start in range(0, len(order), config.batch_size):
            idx = order[start : start + config.batch_size]
            inputs = tokenize(encoder, [texts[i] for i in idx])
            target = torch.tensor([targets[i] for i in idx])
            loss = torch.nn.functional.cross_entropy(head(embed(encoder, inputs)), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    encoder.model.eval()
    return head.eval()
