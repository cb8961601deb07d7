"""Write a plan's tensors into a staging folder, journaled so an interrupted run can be resumed.

Fresh run: the staging folder is emptied, shards are created with their headers, and each finished tensor
is recorded in the journal. Resume: the journal must come from the same plan and run options (its fingerprint),
every recorded tensor is checked against its crc32 in the shard, and only the rest is computed. Because each
tensor is computed deterministically (per-tensor seeds, single-threaded kernels), the result is
bit-identical to an uninterrupted run. An observer (`merge --report`) is fed the resumed tensors too
(observe_written.py), so what it sees does not depend on whether the run was interrupted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from modelfusion.checkpoint.publish import clear_staging
from modelfusion.checkpoint.shard_layout import ShardLayout
from modelfusion.checkpoint.shard_writer import ShardWriter
from modelfusion.engine.journal import Journal, plan_fingerprint, read_journal, verified_done
from modelfusion.engine.observe_written import observe_written
from modelfusion.engine.run_options import RunOptions
from modelfusion.engine.runner import reading_order, run_plan
from modelfusion.errors import OutputError
from modelfusion.plan.job import Job, MergePlan


def resumable_tensors(staging: Path, layout: ShardLayout, fingerprint: str, resume: bool) -> set[str] | None:
    """Tensors already written by an interrupted run of the same plan, or None to start afresh."""
    if not resume:
        return None
    found = read_journal(staging)
    if found is None:
        return None
    recorded_fingerprint, recorded = found
    if recorded_fingerprint != fingerprint:
        raise OutputError(
            "the interrupted merge found here was made from another recipe, other inputs, other options "
            "or another modelfusion version; rerun without --resume to start over",
            where=str(staging),
        )
    return verified_done(staging, layout, recorded)


def write_shards(
    plan: MergePlan,
    layout: ShardLayout,
    staging: Path,
    threads: int,
    device: str,
    on_progress: Callable[[Job], None] | None = None,
    resume: bool = False,
    options: RunOptions = RunOptions(),
) -> int:
    """Fill the shards in `staging` (the caller holds its lock). Returns how many tensors were resumed."""
    fingerprint = plan_fingerprint(plan, layout, options.allow_nonfinite)
    done = resumable_tensors(staging, layout, fingerprint, resume)
    if done is None:
        clear_staging(staging)
    writer = ShardWriter(staging, layout, fresh=done is None)
    try:
        journal = Journal(staging, fingerprint, fresh=done is None, sync_data=writer.sync)
        try:

            def sink(job: Job, tensor: torch.Tensor) -> None:
                writer.write(job.out.name, tensor)
                journal.record(job.out.name, tensor)

            if done:
                resumed = [job for job in reading_order(plan) if job.out.name in done]
                observe_written(plan, resumed, layout, staging, device, options)
                if on_progress:
                    for job in resumed:
                        on_progress(job)
            run_plan(plan, sink, threads, device, on_progress, skip=done or None, options=options)
            journal.finish()
            writer.sync()
        finally:
            journal.close()
    finally:
        writer.close()
    return len(done or ())
