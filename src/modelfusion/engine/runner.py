"""The local backend: worker threads, a bounded window of jobs in flight, progress events.

Memory bound: at most `threads + 1` jobs are in flight, so peak memory is about that many job footprints
(inputs in the compute dtype plus the result) on top of the mapped input pages the OS may evict.
Determinism: torch's own intra-op threads are set to 1 while workers run, so every tensor is computed with
the same reduction order whatever --threads is; the output is bit-identical across thread counts.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import torch

from modelfusion.engine.execute import run_job
from modelfusion.plan.job import Job, MergePlan

ProgressFn = Callable[[Job], None]
Sink = Callable[[Job, torch.Tensor], None]
"""Receives each finished tensor: the shard writer, or a dict for in-memory merges."""


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
) -> None:
    """Execute every job (except those named in `skip`) and hand each tensor to `sink`."""
    dev = torch.device(device)
    jobs = [j for j in reading_order(plan) if not skip or j.out.name not in skip]
    lock = threading.Lock()

    def work(job: Job) -> Job:
        sink(job, run_job(plan, job, dev))
        return job

    with _torch_threads(1 if threads > 1 or dev.type == "cpu" else torch.get_num_threads()):
        if threads <= 1:
            for job in jobs:
                work(job)
                if on_done:
                    on_done(job)
            return
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="modelfusion") as pool:
            pending: set[Future[Job]] = set()
            it = iter(jobs)
            try:
                for job in it:
                    pending.add(pool.submit(work, job))
                    if len(pending) > threads:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for f in done:
                            finished = f.result()
                            if on_done:
                                with lock:
                                    on_done(finished)
                for f in pending:
                    finished = f.result()
                    if on_done:
                        on_done(finished)
            except BaseException:
                for f in pending:
                    f.cancel()
                raise
