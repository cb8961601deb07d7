"""The simulation's output folder: the final global model (the task's files), history.json, the config, a card.

Written into a staging folder and renamed into place (checkpoint.publish), so `out` only ever holds a complete
result.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from modelfusion.checkpoint.publish import discard, make_staging, publish
from modelfusion.federated.config import SimulationConfig


def history_json(result: Any) -> str:
    """Per-round accuracy, bytes and the strategy's train metrics, plus rejected replies, as JSON."""
    data = {
        "initial_accuracy": result.initial_accuracy,
        "final_accuracy": result.final_accuracy,
        "rounds": [asdict(r) for r in result.rounds],
        "rejected": [list(r) for r in result.rejected],
    }
    return json.dumps(data, indent=2) + "\n"


def _strategy_line(cfg: SimulationConfig) -> str:
    s = cfg.strategy
    if s.name.lower() != "merge":
        return f"Flower `{s.name}`" + (f" with {s.options}" if s.options else "")
    line = f"modelfusion `MergeStrategy` (method `{s.method}`"
    line += f", parameters {s.method_params}" if s.method_params else ""
    line += f", clip_norm {s.clip_norm}" if s.clip_norm is not None else ""
    return line + ")"


def _task_lines(cfg: SimulationConfig) -> list[str]:
    if cfg.task not in ("text", "image"):
        return []
    default = "all-MiniLM-L6-v2" if cfg.task == "text" else "EfficientNet-Lite0 (ImageNet weights)"
    trained = "encoder and head" if cfg.task == "text" else "backbone and head"
    size = f", images resized to {cfg.model.image_size}" if cfg.task == "image" else ""
    trained = trained if cfg.model.train == "all" else "the head only"
    return [
        f"- base model: {cfg.model.path or default}; trained: {trained}{size}",
        f"- data: {cfg.data.path} (accuracy on its held-out split; head.safetensors holds the classification head)",
    ]


def model_card(cfg: SimulationConfig, result: Any) -> str:
    """README.md: front matter, then what was trained how, and the per-round table."""
    strategy = cfg.strategy.name.lower()
    front = {
        "library_name": "modelfusion",
        "tags": ["modelfusion", "federated-learning", "flower", f"strategy-{strategy}"],
    }
    if cfg.task == "text" and cfg.model.path is None:
        front["base_model"] = "sentence-transformers/all-MiniLM-L6-v2"
    split = {
        "iid": "IID",
        "task": "one task per client (the data's task names)",
    }.get(cfg.partition.kind, f"Dirichlet(alpha={cfg.partition.alpha}) over labels")
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False).strip(),
        "---",
        "",
        f"# Federated global model: task `{cfg.task}`",
        "",
        f"Trained with a Flower simulation (Ray backend) by {cfg.clients} clients for {cfg.rounds} rounds.",
        "",
        *_task_lines(cfg),
        f"- strategy: {_strategy_line(cfg)}",
        f"- rounds: {cfg.rounds}; clients: {cfg.clients} (all train every round); split: {split}",
        f"- local training: {cfg.local.epochs} epoch(s)"
        + (f" (at most {cfg.local.max_steps} steps)" if cfg.local.max_steps else "")
        + f", {cfg.local.optimizer}, lr {cfg.local.lr}, batch {cfg.local.batch_size}",
        f"- seed: {cfg.seed}" + (f"; malicious clients {cfg.malicious.clients}" if cfg.malicious.clients else ""),
        f"- global test accuracy: {result.initial_accuracy:.4f} before round 1, {result.final_accuracy:.4f} after",
        "",
        "| round | accuracy | bytes sent | bytes received |",
        "|---:|---:|---:|---:|",
    ]
    lines += [f"| {r.round} | {r.accuracy:.4f} | {r.bytes_sent} | {r.bytes_received} |" for r in result.rounds]
    if result.rejected:
        lines += ["", f"{len(result.rejected)} client replies were rejected (see history.json)."]
    lines += ["", "Produced by `modelfusion federated simulate` (federated_config.yaml holds the config).", ""]
    return "\n".join(lines)


def write_global_model(
    out: Path, task: Any, model: Any, cfg: SimulationConfig, result: Any, *, overwrite: bool = False
) -> None:
    staging = make_staging(out)
    try:
        task.save(model, staging)
        (staging / "history.json").write_text(history_json(result), encoding="utf-8")
        dumped = cfg.model_dump(mode="json", exclude={"out"})
        (staging / "federated_config.yaml").write_text(yaml.safe_dump(dumped, sort_keys=False), encoding="utf-8")
        (staging / "README.md").write_text(model_card(cfg, result), encoding="utf-8")
        publish(staging, out, overwrite)
    except BaseException:
        discard(staging)
        raise
