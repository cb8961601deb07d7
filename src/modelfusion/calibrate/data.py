"""Calibration batches: what users give (dicts of tensors, bare tensors, (inputs, labels) pairs, a text file),
normalised to `Batch`, and their content hash (half of the statistics cache key)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from modelfusion.errors import UserError


@dataclass(frozen=True)
class Batch:
    """One calibration batch: the model's inputs (keyword tensors, or one positional tensor), the labels if the
    user gave them, and the attention mask (1 = real token) when there is one."""

    inputs: dict[str, torch.Tensor] | torch.Tensor
    labels: torch.Tensor | None = None

    @property
    def mask(self) -> torch.Tensor | None:
        return self.inputs.get("attention_mask") if isinstance(self.inputs, dict) else None

    @property
    def size(self) -> int:
        first = next(iter(self.inputs.values())) if isinstance(self.inputs, dict) else self.inputs
        return int(first.shape[0])

    def example(self, i: int) -> Batch:
        """The i-th example as a batch of one."""
        if isinstance(self.inputs, dict):
            inputs: dict[str, torch.Tensor] | torch.Tensor = {k: v[i : i + 1] for k, v in self.inputs.items()}
        else:
            inputs = self.inputs[i : i + 1]
        return Batch(inputs, None if self.labels is None else self.labels[i : i + 1])

    def to(self, device: torch.device | str) -> Batch:
        if isinstance(self.inputs, dict):
            inputs: dict[str, torch.Tensor] | torch.Tensor = {k: v.to(device) for k, v in self.inputs.items()}
        else:
            inputs = self.inputs.to(device)
        return Batch(inputs, None if self.labels is None else self.labels.to(device))


def as_batch(item: Any, where: str = "calibration data") -> Batch:
    """A dict of tensors (a `labels` entry is taken apart), a tensor, or an (inputs, labels) pair."""
    if isinstance(item, Batch):
        return item
    if isinstance(item, torch.Tensor):
        return Batch(item)
    if isinstance(item, Mapping):
        inputs = {str(k): torch.as_tensor(v) for k, v in item.items() if k != "labels"}
        labels = item.get("labels")
        return Batch(inputs, None if labels is None else torch.as_tensor(labels))
    if isinstance(item, (tuple, list)) and len(item) == 2:
        inputs, labels = item
        return Batch(as_batch(inputs, where).inputs, torch.as_tensor(labels))
    raise UserError(f"a batch must be a dict of tensors, a tensor or an (inputs, labels) pair, got {type(item)}", where)


def as_batches(data: Iterable[Any], where: str = "calibration data") -> list[Batch]:
    batches = [as_batch(item, where) for item in data]
    if not batches:
        raise UserError("no calibration batches", where)
    return batches


def text_batches(
    path: str | Path,
    tokenizer: Any,
    *,
    batch_size: int = 8,
    max_length: int = 128,
    examples: int | None = None,
) -> list[Batch]:
    """Batches from a text file, one example a line (blank lines skipped), tokenized with `tokenizer` (a
    transformers tokenizer): padded to the longest line of each batch, truncated at `max_length` tokens."""
    path = Path(path)
    if not path.is_file():
        raise UserError("calibration data file not found", str(path))
    lines = path.read_text(encoding="utf-8").splitlines()
    return string_batches(
        lines, tokenizer, batch_size=batch_size, max_length=max_length, examples=examples, where=str(path)
    )


def string_batches(
    texts: list[str],
    tokenizer: Any,
    *,
    batch_size: int = 8,
    max_length: int = 128,
    examples: int | None = None,
    where: str = "calibration data",
) -> list[Batch]:
    """Batches from texts, one example each (blank ones skipped), tokenized as `text_batches` does."""
    lines = [line for line in texts if line.strip()]
    lines = lines[:examples] if examples is not None else lines
    if not lines:
        raise UserError("no examples (every line is blank)", where)
    if getattr(tokenizer, "pad_token", None) is None:
        tokenizer.pad_token = tokenizer.eos_token  # causal LMs ship no pad token; padding is masked anyway
    out = []
    for start in range(0, len(lines), batch_size):
        encoded = tokenizer(
            lines[start : start + batch_size],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        out.append(Batch({k: v for k, v in encoded.items() if k in ("input_ids", "attention_mask")}))
    return out


def _tensors(batch: Batch) -> Iterator[tuple[str, torch.Tensor]]:
    items = batch.inputs.items() if isinstance(batch.inputs, dict) else [("", batch.inputs)]
    yield from sorted(items)
    if batch.labels is not None:
        yield "labels", batch.labels


def data_hash(batches: list[Batch]) -> str:
    """sha256 of every batch's tensor names, dtypes, shapes and bytes, in order."""
    h = hashlib.sha256()
    for batch in batches:
        h.update(b"batch")
        for name, t in _tensors(batch):
            t = t.detach().cpu().contiguous()
            h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()
