"""The device the merge math runs on: tensors are moved there for the method, and back to the CPU to write."""

from __future__ import annotations

import torch

from modelfusion.errors import UserError


def checked_device(device: str | torch.device) -> torch.device:
    """`device` as a torch.device, or a UserError when it does not exist on this machine."""
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise UserError(f"unknown device '{device}' (use cpu, cuda or cuda:N)", where="--device") from None
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise UserError(f"device '{device}' is not supported (use cpu, cuda or cuda:N)", where="--device")
    if not torch.cuda.is_available():
        raise UserError(
            f"device '{device}' asked for, but CUDA is not available here (no GPU, or a CPU-only torch build); "
            "use --device cpu",
            where="--device",
        )
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise UserError(
            f"device '{device}' does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)",
            where="--device",
        )
    return dev
