"""Running a model on a batch: keyword inputs or one positional tensor; the logits of whatever it returns."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from modelfusion.calibrate.data import Batch
from modelfusion.errors import UserError


def run_model(model: nn.Module, batch: Batch) -> Any:
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    batch = batch.to(device)
    if isinstance(batch.inputs, dict):
        return model(**batch.inputs)
    return model(batch.inputs)


def logits_of(output: Any) -> torch.Tensor:
    """The logits: a tensor output, `output.logits` (transformers), `output["logits"]`, or a tuple's first."""
    if isinstance(output, torch.Tensor):
        return output
    if hasattr(output, "logits") and isinstance(output.logits, torch.Tensor):
        return output.logits
    if isinstance(output, dict) and isinstance(output.get("logits"), torch.Tensor):
        return output["logits"]
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise UserError(f"the model returned {type(output).__name__}, which holds no logits: Fisher needs a head")
