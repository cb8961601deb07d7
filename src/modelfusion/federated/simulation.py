"""`simulate(config)`: a Flower simulation (Ray backend) of a built-in task; the global model written as a folder.

Flower runs everything: `run_simulation` starts N virtual SuperNodes whose ClientApp fine-tunes the global model
on its partition (Ray actors, `num_cpus_per_client` each) and a ServerApp whose strategy (`strategies.py`) runs
`strategy.start(...)`, with the global accuracy computed centrally after each round (`evaluate_fn`). Node sampling
is Flower's (the global `random`, seeded here; every client trains every round).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from modelfusion.federated.config import SimulationConfig, load_config
from modelfusion.federated.tasks import get_task


@dataclass
class RoundRecord:
    round: int
    accuracy: float
    bytes_sent: int = 0
    bytes_received: int = 0
    train_metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class SimulationResult:
    rounds: list[RoundRecord]
    initial_accuracy: float
    out: Path | None
    rejected: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def final_accuracy(self) -> float:
        return self.rounds[-1].accuracy if self.rounds else self.initial_accuracy


def client_update(
    config: SimulationConfig, global_sd: dict[str, torch.Tensor], client: int, num_clients: int, server_round: int
) -> tuple[dict[str, torch.Tensor], int]:
    """What client `client` sends back in round `server_round`: its arrays θ_i and its example count n_i.

    An honest client trains the global model on its partition (seed from config seed, round and client). A client
    listed in `malicious.clients` trains the same way, then sends g + s · (θ_i − g) (s = `malicious.scale`, e.g.
    −10: its update reversed and amplified); non-float entries are sent as trained.
    """
    task = get_task(config)
    model = task.new_model()
    task.load_state(model, global_sd)
    data = task.client_data(client, num_clients, config.partition, config.seed)
    count = task.train(model, data, config.local, seed=config.seed * 100_003 + server_round * 1009 + client)
    sd = {k: v.detach().clone() for k, v in task.state(model).items()}
    if client in config.malicious.clients:
        s = config.malicious.scale
        sd = {k: global_sd[k] + s * (v - global_sd[k]) if v.is_floating_point() else v for k, v in sd.items()}
    return sd, count


def _client_app(config: SimulationConfig) -> Any:
    from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp

    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        client = int(context.node_config["partition-id"])
        num_clients = int(context.node_config["num-partitions"])
        global_sd = msg.content["arrays"].to_torch_state_dict()
        server_round = int(msg.content["config"]["server-round"])
        sd, count = client_update(config, global_sd, client, num_clients, server_round)
        content = RecordDict({"arrays": ArrayRecord(sd), "metrics": MetricRecord({"num-examples": count})})
        return Message(content=content, reply_to=msg)

    return app


def _metric_dict(record: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(record or {}).items()}


def simulate(
    config: SimulationConfig | str | Path | dict,
    out: str | Path | None = None,
    *,
    overwrite: bool = False,
    on_round: Callable[[RoundRecord], None] | None = None,
) -> SimulationResult:
    """Run the simulation of `config`; write the final global model to `out` (or config.out) when given."""
    cfg = config if isinstance(config, SimulationConfig) else load_config(config)
    target = Path(out) if out is not None else cfg.out
    if target is not None:
        from modelfusion.checkpoint.publish import check_output_path

        check_output_path(target, [], overwrite)
    task = get_task(cfg)
    for client in range(cfg.clients):  # data, model and split problems surface before Ray starts
        task.client_data(client, cfg.clients, cfg.partition, cfg.seed)
    from modelfusion.federated.strategies import build_strategy

    strategy = build_strategy(cfg)  # user errors in the strategy section surface before Ray starts
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    from flwr.app import ArrayRecord, Context, MetricRecord
    from flwr.serverapp import Grid, ServerApp
    from flwr.simulation import run_simulation

    box: dict[str, Any] = {}
    server = ServerApp()

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        random.seed(cfg.seed)  # Flower samples nodes with the global `random`
        model = task.new_model()

        def evaluate(server_round: int, arrays: ArrayRecord) -> MetricRecord:
            task.load_state(model, arrays.to_torch_state_dict())
            acc = task.accuracy(model)
            if server_round > 0 and on_round is not None:
                on_round(RoundRecord(server_round, acc, **_traffic(strategy, server_round)))
            return MetricRecord({"accuracy": acc})

        box["result"] = strategy.start(
            grid=grid, initial_arrays=ArrayRecord(task.state(model)), num_rounds=cfg.rounds, evaluate_fn=evaluate
        )

    cpus = cfg.ray.num_cpus or max(1, min(cfg.clients, os.cpu_count() or 1))
    backend = {
        "client_resources": {"num_cpus": cfg.ray.num_cpus_per_client, "num_gpus": 0.0},
        "init_args": {"num_cpus": cpus, "num_gpus": 0, "include_dashboard": False, "log_to_driver": False},
    }
    run_simulation(server, _client_app(cfg), num_supernodes=cfg.clients, backend_config=backend)
    if "result" not in box:
        raise RuntimeError("the Flower simulation ended without a result (see its log above)")
    result = _collect(box["result"], strategy, cfg)
    if target is not None:
        model = task.new_model()
        task.load_state(model, box["result"].arrays.to_torch_state_dict())
        from modelfusion.federated.output import write_global_model

        write_global_model(target, task, model, cfg, result, overwrite=overwrite)
        result.out = target
    return result


def _traffic(strategy: Any, server_round: int) -> dict[str, int]:
    t = strategy.traffic.get(server_round, {})
    return {"bytes_sent": t.get("sent", 0), "bytes_received": t.get("received", 0)}


def _collect(res: Any, strategy: Any, cfg: SimulationConfig) -> SimulationResult:
    central = res.evaluate_metrics_serverapp
    rounds = [
        RoundRecord(
            r,
            float(central[r]["accuracy"]),
            **_traffic(strategy, r),
            train_metrics=_metric_dict(res.train_metrics_clientapp.get(r)),
        )
        for r in range(1, cfg.rounds + 1)
        if r in central
    ]
    return SimulationResult(
        rounds=rounds,
        initial_accuracy=float(central[0]["accuracy"]),
        out=None,
        rejected=list(getattr(strategy, "rejected", [])),
    )
