"""A task's classification head: one linear layer on the pooled embedding, saved as safetensors with its labels."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from modelfusion.errors import UserError


class ClassificationHead(torch.nn.Module):
    """logits = W e + b over the class names `labels` (index i = labels[i])."""

    def __init__(self, hidden_size: int, labels: tuple[str, ...]) -> None:
        super().__init__()
        self.labels = tuple(labels)
        self.linear = torch.nn.Linear(hidden_size, len(labels))

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.linear(embeddings)


def save_head(head: ClassificationHead, path: Path, task: str) -> None:
    """Write the head to `path` (safetensors), its labels and task name in the metadata."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous() for k, v in head.linear.state_dict().items()}
    save_file(tensors, str(path), metadata={"labels": json.dumps(list(head.labels)), "task": task})


def load_head(path: Path) -> tuple[ClassificationHead, str]:
    """Read a head saved by save_head; returns (head, task name)."""
    from safetensors import safe_open

    if not path.is_file():
        raise UserError("classification head not found", where=str(path))
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
        labels = tuple(json.loads(meta["labels"]))
        weight, bias = tensors["weight"], tensors["bias"]
    except (KeyError, ValueError, OSError) as e:
        raise UserError(f"not a classification head saved by modelfusion ({e})", where=str(path)) from None
    if weight.dim() != 2 or weight.shape[0] != len(labels) or tuple(bias.shape) != (len(labels),):
        raise UserError(f"weight shape {tuple(weight.shape)} does not match {len(labels)} labels", where=str(path))
    head = ClassificationHead(weight.shape[1], labels)
    head.linear.load_state_dict({"weight": weight, "bias": bias})
    return head.eval(), meta.get("task", "")
