"""Run one job: read inputs -> method -> cast. Knows no merge math, only how to call a registered method."""

from __future__ import annotations

import hashlib

import torch

from modelfusion.engine.finite import check_finite
from modelfusion.errors import RecipeError
from modelfusion.methods import get_method
from modelfusion.plan.job import COPY, InputRef, Job, MergePlan


def tensor_seed(random_seed: int, tensor_name: str) -> int:
    """A per-tensor seed: the same whatever the thread count or the order jobs run in."""
    digest = hashlib.blake2b(f"{random_seed}:{tensor_name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFF_FFFF_FFFF_FFFF


def _checked(plan: MergePlan, model: str, name: str, t: torch.Tensor) -> torch.Tensor:
    """Inputs with NaN / Inf are an error unless the plan allows them (found as each tensor is read)."""
    if plan.allow_nonfinite:
        return t
    return check_finite(t, name, plan.checkpoints[model].infos[name].file or model)


def run_job(plan: MergePlan, job: Job, device: torch.device) -> torch.Tensor:
    """The output tensor of one job, on the CPU, in the output dtype."""
    if job.method == COPY:
        ref = job.inputs[0]
        return _checked(plan, ref.model, ref.tensor, plan.checkpoints[ref.model].read(ref.tensor))
    method = get_method(job.method)

    def load(model: str, name: str) -> torch.Tensor:
        t = plan.checkpoints[model].read(name)
        if job.read_dtype is not None and t.dtype != job.read_dtype and t.is_floating_point():
            t = t.to(job.read_dtype)
        t = t.to(device=device, dtype=job.compute_dtype)
        return _checked(plan, model, name, t)

    def load_ref(r: InputRef) -> torch.Tensor:
        return load(r.model, r.tensor) if r.realign is None else r.realign.apply(load)

    tensors = [load_ref(r) for r in job.inputs]
    base = load_ref(job.base) if job.base else None
    generator = None
    if method.random:
        generator = torch.Generator(device=device)
        generator.manual_seed(tensor_seed(plan.random_seed, job.out.name))
    observe = plan.observer
    try:
        if observe is None:
            out = method(tensors, job.params, base=base, generator=generator)
        else:
            copies = [t.clone() for t in tensors]
            out = method(copies, job.params, base=None if base is None else base.clone(), generator=generator)
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
