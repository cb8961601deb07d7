"""What a plan will cost, known before any tensor is read: the `--dry-run` report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from modelfusion.plan.job import MergePlan

ASSUMED_THROUGHPUT = 400e6
"""Bytes per second assumed for the time estimate (read + write on a plain SSD, 2 cores)."""


@dataclass(frozen=True)
class PlanSummary:
    method: str
    models: list[str]
    tensors: int
    by_method: dict[str, int]
    bytes_to_read: int
    bytes_to_write: int
    peak_memory: int
    """Estimated peak of tensor data in flight (the engine's estimate: engine.runner.tensors_in_flight)."""
    seconds: float
    shards: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def summarize(plan: MergePlan, threads: int, shards: int, peak_memory: int) -> PlanSummary:
    read, write = plan.bytes_to_read, plan.bytes_to_write
    return PlanSummary(
        method=plan.method,
        models=list(plan.checkpoints),
        tensors=len(plan.jobs),
        by_method=dict(Counter(j.method for j in plan.jobs)),
        bytes_to_read=read,
        bytes_to_write=write,
        peak_memory=peak_memory,
        seconds=(read + write) / ASSUMED_THROUGHPUT,
        shards=shards,
    )
