"""AdaMerging's inputs made uniform: the base as a module, each task model's state dict, each task's batches,
the references the recipe will use and the tensor names the merge will see."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from modelfusion.calibrate.data import Batch, as_batches, text_batches
from modelfusion.calibrate.hf_model import load_model, load_tokenizer
from modelfusion.errors import UserError


@dataclass
class AdaMergingInputs:
    base: nn.Module
    states: list[dict[str, torch.Tensor]]
    batches: list[list[Batch]]
    names: list[str]
    base_name: str
    state_names: list[str]
    """Every tensor of the merge's inputs (the base checkpoint's names for a folder, its state dict's for a module)."""


def _checkpoint_names(folder: Path) -> list[str]:
    from modelfusion.checkpoint import open_checkpoint

    with open_checkpoint(folder) as ckpt:
        return list(ckpt.infos)


def load_inputs(
    base: str | Path | nn.Module,
    models: Sequence[str | Path | nn.Module],
    data: Sequence[Iterable[Any] | str | Path],
    names: Sequence[str] | None,
    base_name: str | None,
    batch_size: int,
    max_length: int,
    examples: int | None,
) -> AdaMergingInputs:
    if not models:
        raise UserError("AdaMerging needs at least one model to merge onto the base")
    if len(data) != len(models):
        raise UserError(f"{len(data)} data sources for {len(models)} models (give one per model, in order)")
    if names is not None and len(names) != len(models):
        raise UserError(f"{len(names)} names for {len(models)} models")
    base_module = base if isinstance(base, nn.Module) else load_model(base)
    states, batches = [], []
    for i, (model, source) in enumerate(zip(models, data)):
        where = str(model) if not isinstance(model, nn.Module) else f"model {i + 1}"
        state = model.state_dict() if isinstance(model, nn.Module) else load_model(model).state_dict()
        states.append(state)
        if isinstance(source, (str, Path)):
            if isinstance(model, nn.Module):
                raise UserError("a text file needs a model folder (for its tokenizer); give batches instead", where)
            batches.append(
                text_batches(
                    source, load_tokenizer(model), batch_size=batch_size, max_length=max_length, examples=examples
                )
            )
        else:
            batches.append(as_batches(source, f"data of {where}"))
    default_names = [str(m) if not isinstance(m, nn.Module) else f"model_{i + 1}" for i, m in enumerate(models)]
    ref = base_name or (str(base) if not isinstance(base, nn.Module) else "base")
    if isinstance(base, nn.Module):
        state_names = list(base.state_dict())
    else:
        state_names = _checkpoint_names(Path(base))
        known = set(state_names)
        groups: dict[int, list[str]] = {}
        for n, p in base_module.named_parameters(remove_duplicate=False):
            groups.setdefault(id(p), []).append(n)
        unknown = [g[0] for g in groups.values() if not known.intersection(g)]  # tied: one name is enough
        if unknown:
            raise UserError(
                f"parameter {unknown[0]} of the loaded model is not a tensor of the checkpoint "
                f"({len(unknown)} such): the recipe could not name it",
                str(base),
            )
    return AdaMergingInputs(base_module, states, batches, list(names or default_names), ref, state_names)
