"""Built-in federated tasks: a model, the arrays that travel, each client's data, local training, global accuracy,
the output folder.

- "tiny": a synthetic 4-class Gaussian mixture in 16 dimensions and an MLP 16-32-4 (2.2k parameters), for tests
  and quick checks; local training is plain SGD on cross-entropy.
- "text": a Hugging Face sentence encoder (all-MiniLM-L6-v2 by default) + linear head on a text file (text_task.py).
- "image": EfficientNet-Lite0 + linear head on an image array file (image_task.py).

A task object is built once per process for a config (`get_task`), so what it caches (data, a frozen encoder's
embeddings) lasts across the rounds a Ray actor serves.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from modelfusion.errors import UserError
from modelfusion.federated.config import Local, Partition, SimulationConfig
from modelfusion.federated.partition import partition


class FederatedTask(Protocol):
    name: str

    def new_model(self) -> torch.nn.Module: ...
    def state(self, model: torch.nn.Module) -> dict[str, torch.Tensor]: ...
    def load_state(self, model: torch.nn.Module, sd: dict[str, torch.Tensor]) -> None: ...
    def client_data(self, client: int, num_clients: int, split: Partition, seed: int) -> object: ...
    def train(self, model: torch.nn.Module, data: object, local: Local, seed: int) -> int: ...
    def accuracy(self, model: torch.nn.Module) -> float: ...
    def save(self, model: torch.nn.Module, folder: Path) -> None: ...


@dataclass
class TinyTask:
    """x ~ N(μ_y, I) in R^16 with 4 class means μ_y ~ N(0, σ²I); 800 training and 400 test examples."""

    seed: int = 0
    name: str = "tiny"
    features: int = 16
    classes: int = 4
    hidden: int = 32

    def _data(self, n: int, stream: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed)
        means = torch.randn(self.classes, self.features, generator=g) * 1.2
        g = torch.Generator().manual_seed(self.seed * 1000 + stream)
        y = torch.randint(0, self.classes, (n,), generator=g)
        return means[y] + torch.randn(n, self.features, generator=g), y

    def new_model(self) -> torch.nn.Module:
        torch.manual_seed(self.seed)
        return torch.nn.Sequential(
            torch.nn.Linear(self.features, self.hidden), torch.nn.ReLU(), torch.nn.Linear(self.hidden, self.classes)
        )

    def state(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        return model.state_dict()

    def load_state(self, model: torch.nn.Module, sd: dict[str, torch.Tensor]) -> None:
        model.load_state_dict(sd)

    def client_data(self, client: int, num_clients: int, split: Partition, seed: int) -> object:
        x, y = self._data(800, 1)
        if split.kind == "task":
            raise UserError("partition: the tiny task has no tasks (use dirichlet or iid)")
        parts = partition(y.tolist(), num_clients, split.kind, split.alpha, seed)
        idx = torch.tensor(parts[client])
        return x[idx], y[idx]

    def train(self, model: torch.nn.Module, data: object, local: Local, seed: int) -> int:
        x, y = data  # type: ignore[misc]
        g = torch.Generator().manual_seed(seed)
        opt = torch.optim.SGD(model.parameters(), lr=local.lr)
        model.train()
        for _ in range(local.epochs):
            for batch in torch.randperm(len(y), generator=g).split(local.batch_size):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
                opt.step()
        return len(y)

    @torch.inference_mode()
    def accuracy(self, model: torch.nn.Module) -> float:
        x, y = self._data(400, 2)
        model.eval()
        return float((model(x).argmax(-1) == y).float().mean())

    def save(self, model: torch.nn.Module, folder: Path) -> None:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
        config = {
            "model_type": "modelfusion_tiny_mlp",
            "architectures": ["TinyMLP"],
            "in_features": self.features,
            "hidden_size": self.hidden,
            "num_labels": self.classes,
        }
        (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


TASKS = ("image", "text", "tiny")


def get_task(cfg: SimulationConfig) -> FederatedTask:
    """The task of `cfg`, one object per config and process."""
    if cfg.task not in TASKS:
        raise UserError(f"unknown task '{cfg.task}' (built-in tasks: {', '.join(TASKS)})")
    return _task(cfg.model_dump_json())


@functools.lru_cache(maxsize=4)
def _task(cfg_json: str) -> FederatedTask:
    cfg = SimulationConfig.model_validate_json(cfg_json)
    if cfg.task == "text":
        from modelfusion.federated.text_task import TextTask

        return TextTask(cfg)
    if cfg.task == "image":
        from modelfusion.federated.image_task import ImageTask

        return ImageTask(cfg)
    return TinyTask(seed=cfg.seed)
