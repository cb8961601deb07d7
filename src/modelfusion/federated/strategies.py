"""Strategies by name for simulations (ours or Flower's built-ins), each metered: bytes sent and received per round.

Bytes are the ArrayRecords' payloads: sent = Σ over train / evaluate messages of the global arrays' bytes;
received = Σ over replies of their arrays' bytes (message framing and metrics are not counted).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Message
from flwr.serverapp import Grid
from flwr.serverapp import strategy as flwr_strategy

from modelfusion.errors import UserError
from modelfusion.federated.config import SimulationConfig
from modelfusion.federated.strategy import MergeStrategy

FLOWER = ("FedAvg", "FedMedian", "FedTrimmedAvg", "FedAvgM", "FedAdam", "FedAdagrad", "FedYogi",
          "Krum", "MultiKrum", "Bulyan")  # fmt: skip
"""Flower's strategies that need nothing from the client beyond arrays and num-examples (FedProx needs a
proximal term in local training, QFedAvg a train loss: not offered)."""


def strategy_names() -> list[str]:
    return ["merge", *(n.lower() for n in FLOWER)]


def record_bytes(record: ArrayRecord) -> int:
    return sum(len(a.data) for a in record.values())


def metered(cls: type) -> type:
    """A subclass of strategy class `cls` that counts the bytes of each round in `traffic[round]`."""

    class Metered(cls):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.traffic: dict[int, dict[str, int]] = {}

        def _count(self, server_round: int, key: str, n: int) -> None:
            entry = self.traffic.setdefault(server_round, {"sent": 0, "received": 0})
            entry[key] += n

        def _sent(self, server_round: int, messages: Iterable[Message], arrays: ArrayRecord) -> list[Message]:
            messages = list(messages)
            self._count(server_round, "sent", len(messages) * record_bytes(arrays))
            return messages

        def _received(self, server_round: int, replies: Iterable[Message]) -> list[Message]:
            replies = list(replies)
            n = sum(record_bytes(r) for m in replies if not m.has_error() for r in m.content.array_records.values())
            self._count(server_round, "received", n)
            return replies

        def configure_train(
            self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
        ) -> Iterable[Message]:
            return self._sent(server_round, super().configure_train(server_round, arrays, config, grid), arrays)

        def aggregate_train(self, server_round: int, replies: Iterable[Message]) -> Any:
            return super().aggregate_train(server_round, self._received(server_round, replies))

        def configure_evaluate(
            self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
        ) -> Iterable[Message]:
            return self._sent(server_round, super().configure_evaluate(server_round, arrays, config, grid), arrays)

        def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]) -> Any:
            return super().aggregate_evaluate(server_round, self._received(server_round, replies))

    Metered.__name__ = Metered.__qualname__ = cls.__name__
    return Metered


def build_strategy(config: SimulationConfig) -> Any:
    """The configured strategy, metered; every client trains each round and evaluation is central (server side)."""
    s = config.strategy
    common: dict[str, Any] = {
        "min_train_nodes": config.clients,
        "min_available_nodes": config.clients,
        "fraction_evaluate": 0.0,
        **s.options,
    }
    name = s.name.lower()
    if name == "merge":
        return metered(MergeStrategy)(
            s.method, s.method_params, clip_norm=s.clip_norm, random_seed=config.seed, **common
        )
    if s.method_params or s.clip_norm is not None:
        raise UserError(f"strategy.method_params / clip_norm are for strategy 'merge', not '{s.name}'")
    classes = {n.lower(): getattr(flwr_strategy, n) for n in FLOWER}
    if name not in classes:
        raise UserError(f"unknown strategy '{s.name}' (known: {', '.join(strategy_names())})")
    try:
        return metered(classes[name])(**common)
    except TypeError as e:
        raise UserError(f"strategy '{s.name}': {e}") from None
