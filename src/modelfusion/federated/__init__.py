"""Federated merging on Flower: any methods/ method as the server's aggregation (the `federated` extra).

`MergeStrategy` is a `flwr.serverapp.strategy.FedAvg` whose `aggregate_train` merges client updates with a merge
method (aggregate.py); `simulate` runs a Flower simulation of a built-in task (simulation.py). Flower and Ray are
imported only when one of these is first used, so `import modelfusion` never loads them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MergeStrategy", "load_config", "merge_updates", "simulate"]

_LAZY = {
    "MergeStrategy": "modelfusion.federated.strategy",
    "merge_updates": "modelfusion.federated.aggregate",
    "simulate": "modelfusion.federated.simulation",
    "load_config": "modelfusion.federated.config",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'modelfusion.federated' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)
