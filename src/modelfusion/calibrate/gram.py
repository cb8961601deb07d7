"""Gram matrices of every linear layer's inputs (RegMean's statistic), collected with forward hooks.

    G = (1 / N) sum_t x_t x_t^T        over the N tokens t (rows) that reached the layer

the mean over tokens, as the RegMean authors' code and FusionBench (Jin et al. 2023, arXiv:2212.09849); padding
tokens (attention_mask 0) are left out when the layer's input lines up with the mask. The `regmean` method only
uses the Grams' relative sizes across models, so the mean makes models calibrated on different amounts of data
count alike. Entry name: `gram:<module name>.weight`, shape [in, in] for the layer's [out, in] weight.

Memory is bounded by `max_bytes`: the linear layers are taken in groups whose Grams fit, one pass over the
data per group, each group's Grams handed to `sink` and dropped before the next.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from modelfusion.calibrate.data import Batch
from modelfusion.calibrate.forward import run_model

Sink = Callable[[str, torch.Tensor], None]
Progress = Callable[[int], None]


def linear_layers(model: nn.Module) -> list[tuple[str, nn.Linear]]:
    """Every nn.Linear of the model with its module name (weights in torch's [out, in] layout)."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]


def gram_entry(module_name: str) -> str:
    return f"gram:{module_name}.weight" if module_name else "gram:weight"


def groups(layers: list[tuple[str, nn.Linear]], max_bytes: int) -> list[list[tuple[str, nn.Linear]]]:
    """Consecutive layers whose float32 Grams (4 in^2 bytes each) fit in max_bytes; a larger one alone."""
    out: list[list[tuple[str, nn.Linear]]] = []
    used = 0
    for name, layer in layers:
        size = 4 * layer.in_features**2
        if not out or used + size > max_bytes:
            out.append([])
            used = 0
        out[-1].append((name, layer))
        used += size
    return out


class _GramHook:
    """Accumulates sum_t x_t x_t^T and the token count N of one layer's inputs."""

    def __init__(self, layer: nn.Linear, current_mask: Callable[[], torch.Tensor | None]) -> None:
        self.sum = torch.zeros(layer.in_features, layer.in_features, dtype=torch.float32, device=layer.weight.device)
        self.count = 0
        self.current_mask = current_mask

    def __call__(self, module: nn.Module, args: tuple, kwargs: dict, output: object) -> None:
        x = (args[0] if args else kwargs["input"]).detach()
        rows = x.reshape(-1, x.shape[-1]).float()
        mask = self.current_mask()
        if mask is not None and mask.numel() == rows.shape[0]:
            rows = rows[mask.reshape(-1).to(rows.device) != 0]
        self.sum.addmm_(rows.T, rows)
        self.count += rows.shape[0]

    def mean(self) -> torch.Tensor:
        return self.sum / max(1, self.count)


@torch.no_grad()
def gram_statistics(
    model: nn.Module,
    batches: list[Batch],
    sink: Sink,
    *,
    max_bytes: int = 1 << 30,
    progress: Progress | None = None,
) -> int:
    """Hand `sink` the Gram of every nn.Linear's inputs (see the module docstring); returns how many."""
    layers = linear_layers(model)
    mask: list[torch.Tensor | None] = [None]
    done = 0
    for group in groups(layers, max_bytes):
        hooks = {name: _GramHook(layer, lambda: mask[0]) for name, layer in group}
        handles = [layer.register_forward_hook(hooks[name], with_kwargs=True) for name, layer in group]
        try:
            for batch in batches:
                mask[0] = batch.mask
                run_model(model, batch)
                if progress is not None:
                    progress(1)
        finally:
            for handle in handles:
                handle.remove()
        for name, hook in hooks.items():
            sink(gram_entry(name), hook.mean().cpu())
            done += 1
        del hooks
    return done


def gram_passes(model: nn.Module, max_bytes: int) -> int:
    """Passes over the data gram_statistics makes (for a progress bar)."""
    return len(groups(linear_layers(model), max_bytes))
