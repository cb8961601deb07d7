"""`MergeStrategy`: Flower's FedAvg whose aggregation merges client updates with any modelfusion merge method.

Everything but `aggregate_train` is Flower's own FedAvg (sampling, messages, evaluation, `start`). The global
arrays a round starts from are the ones `configure_train` sends (kept as `global_arrays`); each valid reply's
arrays minus them is a task vector, merged by `aggregate.merge_updates` through `modelfusion.merge_state_dicts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from logging import INFO, WARNING
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg
from flwr.supercore import log

from modelfusion.federated.aggregate import check_method, merge_updates
from modelfusion.federated.replies import reply_problem


class MergeStrategy(FedAvg):
    """FedAvg with `aggregate_train` = a merge method on client updates (weights w_i = n_i / Σ n_j by default).

    method / method_params: any `modelfusion methods` method and its parameters (per-model ones as lists in reply
    order, e.g. weight); `weight` defaults to the example-count fractions. With method="linear" this is FedAvg.
    clip_norm: clip each update δ_i to ‖δ_i‖₂ ≤ clip_norm before merging. random_seed: round r merges with seed
    random_seed + r (dare_ties, della). Other keywords are FedAvg's. Rejected replies (see replies.py) are logged
    with their reason, kept in `rejected` as (round, node id, reason), and left out of the round.
    """

    def __init__(
        self,
        method: str = "ties",
        method_params: Mapping[str, Any] | None = None,
        *,
        clip_norm: float | None = None,
        random_seed: int = 0,
        **fedavg_kwargs: Any,
    ) -> None:
        params = dict(method_params or {})
        check_method(method, params)
        if clip_norm is not None and not clip_norm > 0:
            raise ValueError(f"clip_norm must be positive, got {clip_norm}")
        super().__init__(**fedavg_kwargs)
        self.method = method
        self.method_params = params
        self.clip_norm = clip_norm
        self.random_seed = random_seed
        self.global_arrays: ArrayRecord | None = None
        self.rejected: list[tuple[int, int, str]] = []

    def summary(self) -> None:
        log(INFO, "\t├──> Merge: %s %s | clip_norm %s", self.method, self.method_params, self.clip_norm)
        super().summary()

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        self.global_arrays = arrays
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Merge the valid replies' updates; (None, metrics) when none is valid (the global model stays)."""
        if self.global_arrays is None:
            raise RuntimeError("aggregate_train before configure_train: set `global_arrays` to the round's model")
        global_sd = self.global_arrays.to_torch_state_dict()
        good: list[Message] = []
        replies = list(replies)
        for msg in replies:
            problem = reply_problem(msg, global_sd, self.weighted_by_key)
            if problem is None:
                good.append(msg)
                continue
            node = msg.metadata.src_node_id
            self.rejected.append((server_round, node, problem))
            log(WARNING, "aggregate_train: rejected the reply of node %s: %s", node, problem)
        valid, _ = self._check_and_log_replies(good, is_train=True)
        extra: dict[str, Any] = {"rejected": len(replies) - len(valid)}
        if not valid:
            return None, MetricRecord(extra)
        contents = [m.content for m in valid]
        clients = [next(iter(c.array_records.values())).to_torch_state_dict() for c in contents]
        counts = [float(next(iter(c.metric_records.values()))[self.weighted_by_key]) for c in contents]
        new_sd, stats = merge_updates(
            global_sd,
            clients,
            counts,
            self.method,
            self.method_params,
            clip_norm=self.clip_norm,
            random_seed=self.random_seed + server_round,
        )
        metrics = self.train_metrics_aggr_fn(contents, self.weighted_by_key)
        extra |= {
            "sign-conflict": stats.sign_conflict,
            "update-norm-mean": sum(stats.norms) / len(stats.norms),
            "update-norm-max": max(stats.norms),
            "update-norms": stats.norms,
            "clipped": sum(stats.clipped),
        }
        for key, value in extra.items():
            metrics[key] = value
        return ArrayRecord(new_sd), metrics
