"""An observer (`merge --report`) on a resumed run also sees the tensors taken from the journal.

For each of them the inputs are read again exactly as the method saw them, and the output is read back from the
staged shard (its crc32 was just verified), so the observer gets every merged job whether it was computed in
this run or in the interrupted one. This runs once, in the calling thread, before the remaining jobs.
"""

from __future__ import annotations

from pathlib import Path

from modelfusion.checkpoint import Checkpoint, open_checkpoint
from modelfusion.checkpoint.shard_layout import ShardLayout
from modelfusion.engine.device import checked_device
from modelfusion.engine.execute import load_inputs
from modelfusion.engine.run_options import RunOptions
from modelfusion.plan.job import COPY, Job, MergePlan


def observe_written(
    plan: MergePlan, jobs: list[Job], layout: ShardLayout, staging: Path, device: str, options: RunOptions
) -> None:
    """Call `options.observer` for each merged (non-copy) job of `jobs`, whose output is already in `staging`."""
    observer = options.observer
    merged = [j for j in jobs if j.method != COPY]
    if observer is None or not merged:
        return
    dev = checked_device(device)
    shards: dict[int, Checkpoint] = {}
    try:
        for job in merged:
            index = layout.placements[job.out.name].shard
            if index not in shards:
                shards[index] = open_checkpoint(staging / layout.shards[index].filename)
            inputs, base = load_inputs(plan, options, job, dev)
            observer(job, inputs, base, shards[index].read(job.out.name))
    finally:
        for written in shards.values():
            written.close()
