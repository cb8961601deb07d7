"""AdaMerging: task-arithmetic coefficients learned by minimising the merged model's prediction entropy.

Yang et al. 2024, "AdaMerging: Adaptive model merging for multi-task learning" (ICLR 2024, arXiv:2310.02575):

    theta(lambda) = theta_base + sum_k lambda_{k,l} delta_{k,l},     delta_k = theta_k - theta_base
    lambda* = argmin_lambda  sum_k  mean_{x in D_k}  H(p(. | x; theta(lambda))),   H(p) = -sum_c p_c log p_c

over the unlabeled data D_k of each task k. Task-wise: one lambda_k per model (l ranges over one group);
layer-wise: one per model and parameter tensor l (tied parameters share one). Each step takes the next batch of
every task and one Adam step on lambda; the model runs functionally (torch.func.functional_call) with the merged
parameters, so only lambda receives gradients. Defaults as the paper and FusionBench: lambda_0 = 0.3, Adam with
lr 1e-3; lambda is clamped to [0, 1] in the forward pass (FusionBench's `clamp_weights`) unless clamp=False.

The result is a plain `task_arithmetic` recipe (adamerging_recipe.py): merging it needs no data.
Float buffers (e.g. BatchNorm statistics) keep the base's values (coefficient 0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.func import functional_call

from modelfusion.calibrate.adamerging_inputs import load_inputs
from modelfusion.calibrate.adamerging_recipe import adamerging_recipe, write_recipe
from modelfusion.calibrate.data import Batch
from modelfusion.calibrate.forward import logits_of
from modelfusion.errors import UserError

Mode = Literal["task", "layer"]
Head = Callable[[Any], torch.Tensor]
"""Maps the model's output to the logits whose entropy is minimised (default: forward.logits_of)."""


@dataclass
class AdaMergingResult:
    """The learned coefficients (per model: tensor name -> lambda), the recipe that merges with them, the mean
    prediction entropy of each task's data before and after, and the loss (sum over tasks) of every step."""

    recipe: dict[str, Any]
    coefficients: list[dict[str, float]]
    entropy_before: list[float]
    entropy_after: list[float]
    losses: list[float] = field(default_factory=list)

    def write(self, path: str | Path) -> Path:
        before = ", ".join(f"{e:.4f}" for e in self.entropy_before)
        after = ", ".join(f"{e:.4f}" for e in self.entropy_after)
        note = f"AdaMerging ({len(self.losses)} steps): mean entropy per task {before} -> {after}"
        return write_recipe(self.recipe, path, note)


def entropy(logits: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean Shannon entropy (nats) of softmax(logits) over the last dimension: over the batch for [B, C] logits,
    over the real tokens (attention_mask 1) for [B, S, V] ones."""
    log_p = torch.log_softmax(logits.float(), dim=-1)
    h = -(log_p.exp() * log_p).sum(-1)
    if mask is not None and h.dim() == 2 and mask.shape == h.shape:
        return h[mask.to(h.device) != 0].mean()
    return h.mean()


class TaskVectorMerger:
    """theta(lambda) of the module docstring for the parameters of `base`, from the task models' state dicts."""

    def __init__(self, base: nn.Module, states: Sequence[Mapping[str, torch.Tensor]], mode: Mode, init: float) -> None:
        groups: dict[int, list[str]] = {}
        params: dict[int, torch.Tensor] = {}
        for name, p in base.named_parameters(remove_duplicate=False):
            groups.setdefault(id(p), []).append(name)
            params[id(p)] = p
        self.aliases = list(groups.values())
        self.names = [g[0] for g in self.aliases]
        self.base = [params[i].detach().float() for i in groups]
        self.deltas: list[list[torch.Tensor]] = []
        for k, state in enumerate(states):
            missing = [n for n in self.names if n not in state]
            if missing:
                raise UserError(f"model {k + 1} has no tensor {missing[0]} (of {len(missing)} missing)")
            device = self.base[0].device
            self.deltas.append([state[n].detach().to(device, torch.float32) - b for n, b in zip(self.names, self.base)])
        self.buffers = {n: b.detach() for n, b in base.named_buffers()}
        self.mode = mode
        columns = 1 if mode == "task" else len(self.names)
        self.coef = torch.full((len(states), columns), float(init), device=self.base[0].device, requires_grad=True)

    def lambdas(self, clamp: bool) -> torch.Tensor:
        return self.coef.clamp(0.0, 1.0) if clamp else self.coef

    def params(self, clamp: bool) -> dict[str, torch.Tensor]:
        c = self.lambdas(clamp)
        out: dict[str, torch.Tensor] = dict(self.buffers)
        for layer, (name, base) in enumerate(zip(self.names, self.base)):
            column = 0 if self.mode == "task" else layer
            merged = base
            for k, deltas in enumerate(self.deltas):
                merged = merged + c[k, column] * deltas[layer]
            out[name] = merged
        return out

    def coefficients(self, clamp: bool, state_names: Iterable[str]) -> list[dict[str, float]]:
        """Per model: every state-dict tensor -> its lambda (float32 value as a float); buffers 0."""
        c = self.lambdas(clamp).detach().cpu()
        out = []
        for k in range(c.shape[0]):
            values = dict.fromkeys(state_names, 0.0)
            for layer, aliases in enumerate(self.aliases):
                for name in aliases:
                    if name in values:
                        values[name] = float(c[k, 0 if self.mode == "task" else layer])
            out.append(values)
        return out


def _forward(model: nn.Module, params: dict[str, torch.Tensor], batch: Batch) -> Any:
    if isinstance(batch.inputs, dict):
        return functional_call(model, params, (), batch.inputs)
    return functional_call(model, params, (batch.inputs,))


def _mean_entropy(model: nn.Module, params: dict, batches: list[Batch], head: Head) -> float:
    with torch.no_grad():
        values = [float(entropy(head(_forward(model, params, b)), b.mask)) for b in batches]
    return sum(values) / len(values)


def adamerge(
    base: str | Path | nn.Module,
    models: Sequence[str | Path | nn.Module],
    data: Sequence[Iterable[Any] | str | Path],
    *,
    names: Sequence[str] | None = None,
    base_name: str | None = None,
    mode: Mode = "layer",
    init: float = 0.3,
    steps: int = 500,
    lr: float = 1e-3,
    clamp: bool = True,
    heads: Sequence[Head] | None = None,
    batch_size: int = 8,
    max_length: int = 128,
    examples: int | None = None,
    device: str = "cpu",
    progress: Callable[[int, int, float], None] | None = None,
) -> AdaMergingResult:
    """Learn AdaMerging coefficients (module docstring) of `models` (HF folders or nn.Modules, fine-tunes of
    `base`) from `data`: per model, an iterable of unlabeled batches (as calibrate()) or a text file (one example
    a line, the model folder's tokenizer). `names` / `base_name` are the models' references in the recipe
    (default: the folders, or model_1.. / base for modules). `heads[k]` maps the output to task k's logits.
    progress(step, steps, loss) after each step."""
    if mode not in ("task", "layer"):
        raise UserError(f"mode must be 'task' or 'layer', not {mode!r}")
    if steps < 0 or lr <= 0:
        raise UserError("steps must be >= 0 and lr > 0")
    inputs = load_inputs(base, models, data, names, base_name, batch_size, max_length, examples)
    if heads is not None and len(heads) != len(models):
        raise UserError(f"{len(heads)} heads for {len(models)} models (give one per model)")
    task_heads: list[Head] = list(heads) if heads is not None else [logits_of] * len(models)
    module = inputs.base.to(device).eval()
    for p in module.parameters():
        p.requires_grad_(False)
    merger = TaskVectorMerger(module, inputs.states, mode, init)
    batches = [[b.to(device) for b in task] for task in inputs.batches]
    before = [_mean_entropy(module, merger.params(clamp), task, h) for task, h in zip(batches, task_heads)]
    optimizer = torch.optim.Adam([merger.coef], lr=lr)
    losses = []
    for step in range(steps):
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for task, head in zip(batches, task_heads):  # one backward per task: one graph held at a time
            batch = task[step % len(task)]
            loss = entropy(head(_forward(module, merger.params(clamp), batch)), batch.mask)
            loss.backward()
            total += float(loss.detach())
        optimizer.step()
        losses.append(total)
        if progress is not None:
            progress(step + 1, steps, total)
    after = [_mean_entropy(module, merger.params(clamp), task, h) for task, h in zip(batches, task_heads)]
    coefficients = merger.coefficients(clamp, inputs.state_names)
    recipe = adamerging_recipe(inputs.base_name, inputs.names, coefficients)
    return AdaMergingResult(recipe, coefficients, before, after, losses)
