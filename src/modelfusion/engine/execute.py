"""Run one job: read inputs -> method -> cast. Knows no merge math, only how to call a registered method."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import torch

from modelfusion.engine.finite import all_finite, check_finite
from modelfusion.engine.row_blocks import RowBlocks, RowReader
from modelfusion.engine.run_options import RunOptions
from modelfusion.errors import RecipeError
from modelfusion.methods import JobSize, MergeMethod, get_method
from modelfusion.methods.blocks import blocks
from modelfusion.plan.job import COPY, InputRef, Job, MergePlan


def tensor_seed(random_seed: int, tensor_name: str) -> int:
    """A per-tensor seed: the same whatever the thread count or the order jobs run in."""
    digest = hashlib.blake2b(f"{random_seed}:{tensor_name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFF_FFFF_FFFF_FFFF


def _checked(plan: MergePlan, options: RunOptions, model: str, name: str, t: torch.Tensor) -> torch.Tensor:
    """Inputs with NaN / Inf are an error unless the run allows them (found as each tensor is read)."""
    if options.allow_nonfinite:
        return t
    return check_finite(t, name, plan.checkpoints[model].infos[name].file or model)


BLOCK_ELEMENTS = 1 << 18
"""Streamed methods (every elementwise one, the task-vector family, SLERP) run on row blocks of about this many
entries (1 MiB per float32 operand), so a large tensor never exists in the compute dtype as a whole: memory
per job is its inputs as stored, its output, and the working copies of one block. A block's working set (a
dozen operands) stays in the last-level cache; at 2^20 entries it did not, and every elementwise pass went to
memory (DARE 12% slower end to end with two threads, bench/speed/run.py)."""


def _keeps_finite(src: torch.dtype, dst: torch.dtype) -> bool:
    """Converting src -> dst maps every finite value to a finite one (dst's range covers src's)."""
    return torch.finfo(dst).max >= torch.finfo(src).max


def _read_input(
    plan: MergePlan,
    options: RunOptions,
    job: Job,
    model: str,
    name: str,
    device: torch.device,
    *,
    convert: bool = True,
) -> torch.Tensor:
    """One input tensor on `device`, checked for NaN / Inf, cast to the recipe's `dtype` if any.

    The check runs on the tensor as stored when the cast cannot overflow (fewer bytes to scan for bf16 / fp16).
    With `convert=False` such a cast is left to the caller (blockwise runs cast each block).
    """
    t = plan.checkpoints[model].read(name).to(device=device)
    target = job.read_dtype if job.read_dtype is not None and t.is_floating_point() else t.dtype
    if target == t.dtype:
        return _checked(plan, options, model, name, t)
    if _keeps_finite(t.dtype, target):
        t = _checked(plan, options, model, name, t)
        return t.to(target) if convert else t
    return _checked(plan, options, model, name, t.to(target))


def _stream_of(method: MergeMethod) -> Callable[[RowBlocks, dict], Iterator[torch.Tensor]] | None:
    """How the engine runs `method` over row blocks: its streamed form, or an elementwise method block by block."""
    if method.streamed is not None:
        return method.stream
    if method.elementwise and not method.random:
        return lambda source, params: (method(b.tensors, params, base=b.base) for b in blocks(source))
    return None


def _streams(job: Job, method: MergeMethod) -> bool:
    refs = [*job.inputs, *([job.base] if job.base else [])]
    return method.can_stream and not job.statistics and all(r.realign is None for r in refs)


def _block_seeds(plan: MergePlan, job: Job) -> Callable[[int], int]:
    """Block 0 draws from the tensor's seed (so a one-block tensor draws as the whole-tensor function does);
    block i > 0 from a seed of its own. The stream depends on the seed, the tensor and the block size only."""
    return lambda i: tensor_seed(plan.random_seed, job.out.name if i == 0 else f"{job.out.name}#block{i}")


def _row_reader(
    plan: MergePlan, options: RunOptions, job: Job, ref: InputRef, device: torch.device, *, check: bool = True
) -> RowReader:
    """Rows of one input as stored, read on demand (partial reads for safetensors) and checked for NaN / Inf
    the first time each block is read (unless `check` is False: the caller checks the output instead). Where
    the cast to the recipe's `dtype` could overflow, the whole tensor is read, cast and checked at once."""
    checkpoint = plan.checkpoints[ref.model]
    info = checkpoint.infos[ref.tensor]
    target = job.read_dtype if job.read_dtype is not None and info.dtype.is_floating_point else info.dtype
    if target != info.dtype and not _keeps_finite(info.dtype, target):
        whole = _read_input(plan, options, job, ref.model, ref.tensor, device)
        return lambda rows: whole if rows is None else whole[rows]
    checked: set[int | None] = set()

    def read(rows: slice | None) -> torch.Tensor:
        t = checkpoint.read(ref.tensor) if rows is None else checkpoint.read_rows(ref.tensor, rows)
        t = t.to(device=device)
        key = None if rows is None else rows.start
        if check and key not in checked:
            _checked(plan, options, ref.model, ref.tensor, t)
            checked.add(key)
        return t

    return read


def _run_streamed(
    plan: MergePlan, options: RunOptions, job: Job, method: MergeMethod, device: torch.device
) -> torch.Tensor:
    """The method over row blocks of the inputs, read block by block; each output block written into the output."""

    def widen(t: torch.Tensor) -> torch.Tensor:  # the same casts as a whole-tensor run, block by block
        if job.read_dtype is not None and t.is_floating_point():
            t = t.to(job.read_dtype)
        return t.to(job.compute_dtype)

    # Methods that propagate NaN / Inf: one check of each output block (in the compute dtype) instead of one per
    # input block; the inputs are looked at only to name the file when an output block is not finite.
    check_output = method.nonfinite_propagates and not options.allow_nonfinite
    refs = [*job.inputs, *([job.base] if job.base else [])]
    all_readers = [_row_reader(plan, options, job, r, device, check=not check_output) for r in refs]
    readers, base = all_readers[: len(job.inputs)], (all_readers[-1] if job.base else None)
    source = RowBlocks(
        readers,
        base,
        job.out.shape,
        widen,
        BLOCK_ELEMENTS,
        split_vectors=method.streamed is None,
        seed_of=_block_seeds(plan, job) if method.random else None,
        device=device,
    )
    out = torch.empty(job.out.shape, dtype=job.out.dtype)
    written = 0
    for i, part in enumerate(_stream_of(method)(source, job.params)):
        rows = source.rows(i)
        target = out if rows is None else out[rows]
        if tuple(part.shape) != tuple(target.shape):
            raise RuntimeError(f"{job.method} returned shape {tuple(part.shape)} for block {i} of {job.out.name}")
        if check_output and not all_finite(part):
            for ref in refs:  # raises, naming the file, when an input is not finite (else the merge overflowed)
                _row_reader(plan, options, job, ref, device)(rows)
        target.copy_(part)
        written += 1
    if written != source.count:
        raise RuntimeError(f"{job.method} returned {written} blocks of {source.count} for {job.out.name}")
    if options.observer is not None:
        whole = [widen(read(None)) for read in readers]
        options.observer(job, whole, None if base is None else widen(base(None)), out)
    return out


def job_memory(plan: MergePlan, job: Job) -> int:
    """Estimated peak bytes of one job, as the method's memory model gives it for this job's sizes (whole
    tensors, or row blocks of BLOCK_ELEMENTS entries when streamed); a copy holds its input."""
    refs = [*job.inputs, *([job.base] if job.base else [])]
    stored = sum(plan.checkpoints[r.model].infos[r.tensor].nbytes for r in refs)
    if job.method == COPY:
        return stored
    method = get_method(job.method)
    size = JobSize(
        numel=job.out.numel,
        element_size=torch.empty((), dtype=job.compute_dtype).element_size(),
        out_bytes=job.out.nbytes,
        stored_bytes=stored,
        models=len(job.inputs),
        has_base=job.base is not None,
        block_elements=BLOCK_ELEMENTS if _streams(job, method) else None,
        params=job.params,
        statistics_bytes=sum(
            plan.statistics[r.model].infos[r.tensor].nbytes for stat in job.statistics.values() for r in stat
        ),
    )
    return method.memory(size)


def load_statistics(job: Job, plan: MergePlan, device: torch.device) -> dict[str, list[torch.Tensor]]:
    """The per-tensor statistics of a job's inputs (Fisher, Gram), on `device` in the compute dtype; NaN / Inf
    in a statistic is an error naming its file."""
    out: dict[str, list[torch.Tensor]] = {}
    for stat, refs in job.statistics.items():
        out[stat] = []
        for r in refs:
            stats = plan.statistics[r.model]
            t = check_finite(stats.read(r.tensor), r.tensor, stats.infos[r.tensor].file or r.model)
            out[stat].append(t.to(device=device, dtype=job.compute_dtype))
    return out


def load_inputs(
    plan: MergePlan, options: RunOptions, job: Job, device: torch.device
) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    """A job's inputs and base as the method sees them: read, checked, cast to the compute dtype, realigned.
    (The observer of a streamed job gets the same values: the same casts, applied to the whole tensor.)"""

    def load(model: str, name: str) -> torch.Tensor:
        # Checked before widening to the compute dtype: half the bytes to scan for bf16 / fp16 inputs.
        return _read_input(plan, options, job, model, name, device).to(dtype=job.compute_dtype)

    def load_ref(r: InputRef) -> torch.Tensor:
        return load(r.model, r.tensor) if r.realign is None else r.realign.apply(load)

    return [load_ref(r) for r in job.inputs], load_ref(job.base) if job.base else None


def run_job(plan: MergePlan, job: Job, device: torch.device, options: RunOptions = RunOptions()) -> torch.Tensor:
    """The output tensor of one job, on the CPU, in the output dtype."""
    if job.method == COPY:
        ref = job.inputs[0]
        return _checked(plan, options, ref.model, ref.tensor, plan.checkpoints[ref.model].read(ref.tensor))
    method = get_method(job.method)
    if _streams(job, method):
        try:
            return _run_streamed(plan, options, job, method, device)
        except ValueError as e:  # as below: the method cannot use its parameters
            raise RecipeError(f"method '{job.method}' cannot merge tensor '{job.out.name}': {e}") from None

    tensors, base = load_inputs(plan, options, job, device)
    stats = load_statistics(job, plan, device)
    generator = None
    if method.random:  # drawn on the CPU whatever the device: the same seed gives the same merge on cpu and cuda
        generator = torch.Generator()
        generator.manual_seed(tensor_seed(plan.random_seed, job.out.name))
    observe = options.observer
    try:
        if observe is None:
            out = method(tensors, job.params, base=base, generator=generator, statistics=stats)
        else:
            copies = [t.clone() for t in tensors]
            out = method(
                copies, job.params, base=None if base is None else base.clone(), generator=generator, statistics=stats
            )
    except ValueError as e:  # a method's way to say its parameters cannot be used (e.g. weights summing to 0)
        raise RecipeError(f"method '{job.method}' cannot merge tensor '{job.out.name}': {e}") from None
    if tuple(out.shape) != job.out.shape:
        raise RuntimeError(
            f"{job.method} returned shape {tuple(out.shape)} for {job.out.name}, planned {job.out.shape}"
        )
    result = out.to(device="cpu", dtype=job.out.dtype)
    if observe is not None:
        observe(job, tensors, base, result)
    return result
