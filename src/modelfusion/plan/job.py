"""A MergePlan: one job per output tensor, everything resolved, nothing read yet."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from modelfusion.checkpoint import Checkpoint, TensorInfo

if TYPE_CHECKING:
    from modelfusion.plan.realign import Realign
    from modelfusion.plan.vocab import VocabPlan

COPY = "copy"
"""Pseudo-method: the output tensor is the (single) input, unchanged (non-float tensors, passthrough)."""


@dataclass(frozen=True)
class InputRef:
    model: str
    """Key of the model in MergePlan.checkpoints."""
    tensor: str
    """Tensor name inside that model."""
    realign: Realign | None = field(default=None, compare=False)
    """Vocabulary tensors: rows gathered to the output vocabulary as the tensor is read (plan.vocab)."""


@dataclass
class Job:
    out: TensorInfo
    method: str
    inputs: list[InputRef]
    base: InputRef | None = None
    params: dict[str, Any] = field(default_factory=dict)
    compute_dtype: torch.dtype = torch.float32
    read_dtype: torch.dtype | None = None
    """The recipe's `dtype`: float inputs are rounded to it before being widened to compute_dtype (as mergekit
    loads them in `dtype`), so float32 checkpoints merged with `dtype: bfloat16` match mergekit bit for bit."""
    statistics: dict[str, list[InputRef]] = field(default_factory=dict)
    """Per-tensor statistics the method consumes, by statistic name: one entry per input (aligned with
    `inputs`), `model` naming a file of MergePlan.statistics. Absent: the statistic does not apply here."""


@dataclass
class MergePlan:
    jobs: list[Job]
    checkpoints: dict[str, Checkpoint]
    method: str
    base_model: str | None
    """Key of the model whose config and tokenizer are copied (the base, else the first model)."""
    config: dict | None
    out_dtype: torch.dtype | None
    recipe_text: str = ""
    random_seed: int = 0
    tokenizer: VocabPlan | None = None
    """The merged vocabulary, when the recipe sets `tokenizer` / `tokenizer_source` (else the base's is copied)."""
    statistics: dict[str, Checkpoint] = field(default_factory=dict)
    """Opened statistics files (Fisher, Gram) by the model they describe (the recipe's `statistics:` keys)."""
    warnings: list[str] = field(default_factory=list)
    """Recipe settings that have no effect (a parameter the method does not use): one line each."""

    @property
    def out_tensors(self) -> list[TensorInfo]:
        return [j.out for j in self.jobs]

    @property
    def bytes_to_write(self) -> int:
        return sum(j.out.nbytes for j in self.jobs)

    @property
    def bytes_to_read(self) -> int:
        total = 0
        for job in self.jobs:
            refs = job.inputs + ([job.base] if job.base else [])
            total += sum(self.checkpoints[r.model].infos[r.tensor].nbytes for r in set(refs))
        return total

    def input_paths(self) -> list[Path]:
        """Every input model's path, and the folders applied to them (LoRA adapters)."""
        paths = [c.path for c in self.checkpoints.values() if c.path is not None]
        return paths + [p for c in self.checkpoints.values() for p in c.extra_sources]
