"""The local backend: worker threads, a bounded window of jobs in flight, progress events.

Memory bound: at most `threads + 1` jobs are in flight, and only as many as fit a memory budget by their
estimated footprint (a job larger than the budget runs alone); the largest job that fits starts first
(admission.py). Streamed methods read their inputs block by block (no memory maps) and a job holds its output
plus one block's working set; nothing else holds tensor data, so peak memory is about the budget (or the
largest job) plus the interpreter and torch, whatever the model's size.
Determinism: torch's own intra-op threads are set to 1 while workers run, so every tensor is computed with
the same reduction order whatever --threads is; the output is bit-identical across thread counts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import torch

from modelfusion.engine.admission import AdmissionQueue
from modelfusion.engine.device import checked_device
from modelfusion.engine.execute import job_memory, run_job
from modelfusion.engine.run_options import RunOptions
from modelfusion.plan.job import Job, MergePlan

ProgressFn = Callable[[Job], None]
Sink = Callable[[Job, torch.Tensor], None]
"""Receives each finished tensor: the shard writer, or a dict for in-memory merges."""

MEMORY_BUDGET = 512 << 20
"""Default bytes that the jobs in flight may hold together (inputs as read, working copies, output)."""


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def tensors_in_flight(plan: MergePlan, threads: int, budget: int = MEMORY_BUDGET) -> int:
    """Upper estimate of the tensor bytes the jobs of `plan` hold at once: at most `threads + 1` jobs, together
    within the budget unless a single job is larger (it then runs alone)."""
    largest = max((job_memory(plan, j) for j in plan.jobs), default=0)
    return min((threads + 1) * largest, max(budget, largest))


def reading_order(plan: MergePlan) -> list[Job]:
    """Jobs sorted by the file and position of their first input, so input files are read sequentially."""
    rank: dict[tuple[str, str], int] = {}
    for ckpt_key, ckpt in plan.checkpoints.items():
        for i, name in enumerate(ckpt.infos):
            rank[(ckpt_key, name)] = i

    def key(job: Job) -> tuple:
        ref = job.base or (job.inputs[0] if job.inputs else None)
        if ref is None:
            return ("", 0)
        return (plan.checkpoints[ref.model].infos[ref.tensor].file, rank.get((ref.model, ref.tensor), 0))

    return sorted(plan.jobs, key=key)


def run_plan(
    plan: MergePlan,
    sink: Sink,
    threads: int = 1,
    device: str = "cpu",
    on_done: ProgressFn | None = None,
    skip: set[str] | None = None,
    memory_budget: int = MEMORY_BUDGET,
    options: RunOptions = RunOptions(),
) -> None:
    """Execute every job (except those named in `skip`) and hand each tensor to `sink`.

    Jobs run `threads` at a time, and together hold at most `memory_budget` bytes by their estimate
    (`job_memory`), except a single job larger than the budget, which runs alone.
    """
    dev = checked_device(device)
    jobs = [j for j in reading_order(plan) if not skip or j.out.name not in skip]
    _run_jobs(plan, jobs, sink, threads, dev, on_done, memory_budget, options)


def _run_jobs(
    plan: MergePlan,
    jobs: list[Job],
    sink: Sink,
    threads: int,
    dev: torch.device,
    on_done: ProgressFn | None,
    budget: int,
    options: RunOptions,
) -> None:
    def work(job: Job) -> Job:
        sink(job, run_job(plan, job, dev, options))
        return job

    def finish(job: Job) -> None:
        if on_done:
            on_done(job)

    with _torch_threads(1 if threads > 1 or dev.type == "cpu" else torch.get_num_threads()):
        if threads <= 1:
            for job in jobs:
                finish(work(job))
            return
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="modelfusion") as pool:
            queue = AdmissionQueue([(job, job_memory(plan, job)) for job in jobs])
            pending: dict[Future[Job], int] = {}
            in_flight = 0
            try:
                while queue or pending:
                    # Admit while a worker is free (plus one queued): the largest job that fits the budget, or,
                    # when nothing runs, the largest of all (a job larger than the whole budget runs alone).
                    while len(pending) <= threads:
                        taken = queue.take(budget - in_flight, alone=not pending)
                        if taken is None:
                            break
                        job, need = taken
                        pending[pool.submit(work, job)] = need
                        in_flight += need
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for f in done:
                        in_flight -= pending.pop(f)
                        finish(f.result())
            except BaseException:
                for f in pending:
                    f.cancel()
                raise
