"""What a plan will cost, known before any tensor is read: the `--dry-run` report.

No time is estimated. A merge's duration is not bytes over one rate: it depends on whether the inputs are in the
page cache (reads differ tenfold), on the method (linear is bound by the disk, TIES / DARE / DELLA by arithmetic)
and on how --threads scales on a loaded machine; a one-off measurement of the disk would still mislead on most of
them. docs/performance.md holds measured times for each method.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from modelfusion.plan.job import MergePlan


@dataclass(frozen=True)
class PlanSummary:
    method: str
    models: list[str]
    tensors: int
    by_method: dict[str, int]
    bytes_to_read: int
    bytes_to_write: int
    peak_memory: int
    """Estimated peak of tensor data in flight with `threads` workers (engine.runner.tensors_in_flight)."""
    threads: int
    shards: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def summarize(plan: MergePlan, threads: int, shards: int, peak_memory: int) -> PlanSummary:
    """The summary of `plan` run by `threads` workers into `shards` output shards."""
    return PlanSummary(
        method=plan.method,
        models=list(plan.checkpoints),
        tensors=len(plan.jobs),
        by_method=dict(Counter(j.method for j in plan.jobs)),
        bytes_to_read=plan.bytes_to_read,
        bytes_to_write=plan.bytes_to_write,
        peak_memory=peak_memory,
        threads=threads,
        shards=shards,
    )
