"""Run-time options of one engine run: what the plan does not decide (it stays a description of the output)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from modelfusion.plan.job import Job

Observer = Callable[[Job, list[torch.Tensor], torch.Tensor | None, torch.Tensor], None]
"""observer(job, inputs, base, output) after each merged (non-copy) job: the inputs and base as the method saw
them (compute dtype, realigned; the method gets copies, so they are intact), the output as written."""


@dataclass(frozen=True)
class RunOptions:
    allow_nonfinite: bool = False
    """Merge inputs that hold NaN / Inf instead of stopping with an error (part of the resume fingerprint)."""
    observer: Observer | None = None
    """Diagnostics such as `merge --report`; a resumed run feeds it the journaled tensors too (staged_write)."""
