"""Memory models of merge methods: the peak bytes of one job, from sizes only (torch-free).

The engine describes a job (`JobSize`) and asks the method (`MergeMethod.memory`); the method answers with one
of these models (or its own). Figures are estimates for scheduling and `--dry-run`, not measurements.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PASS_CACHE_BYTES = 64 << 20
"""Up to this size (4 bytes an entry and model for task vectors, 4 more for magnitude keys, 4 more for float
masks), a tensor's task vectors, keys and masks are kept between the passes of a multi-pass merge (TIES,
Breadcrumbs, rescaled DARE / DELLA) instead of being read, widened and computed again in each pass. Larger
tensors keep only their masks, as bool (1 byte an entry and model)."""


@dataclass(frozen=True)
class JobSize:
    """What a memory model knows of one job: sizes, counts and resolved parameters, no tensors."""

    numel: int
    """Entries of the output tensor (and of each input)."""
    element_size: int
    """Bytes per entry of the compute dtype."""
    out_bytes: int
    """The output as stored."""
    stored_bytes: int
    """Every input (base included) as stored."""
    models: int
    """Inputs besides the base."""
    has_base: bool
    block_elements: int | None
    """Entries per row block when the engine streams the job; None when it runs on whole tensors."""
    params: Mapping[str, Any] = field(default_factory=dict)
    statistics_bytes: int = 0
    """Per-tensor statistics (Fisher, Gram) of the inputs, as stored."""

    @property
    def refs(self) -> int:
        """Tensors read: the inputs and the base."""
        return self.models + int(self.has_base)


def whole_tensor_memory(job: JobSize) -> int:
    """One input as stored, (2 refs + 4) compute-dtype working copies (task vectors, magnitudes, masks,
    selections), the output, and the statistics widened to the compute dtype."""
    widened_statistics = job.statistics_bytes * 2  # bf16 / fp16 statistics widened to float32, at most 2x
    return (
        job.stored_bytes // max(1, job.refs)
        + (2 * job.refs + 4) * job.numel * job.element_size
        + job.out_bytes
        + widened_statistics
    )


def block_memory(job: JobSize) -> int:
    """The output, plus per row block: the inputs as stored and widened, task vectors, masks, the stacked and
    weighted copies, (5 refs + 6) block-sized operands in all."""
    block = min(job.block_elements or job.numel, job.numel)
    return job.out_bytes + (5 * job.refs + 6) * block * job.element_size


def multipass_memory(job: JobSize) -> int:
    """block_memory, plus what a multi-pass method keeps between its passes: the masks of every block of a
    rescaled method (1 byte an entry and model), and the task vectors, keys and masks of a tensor small enough
    (12 bytes an entry and model, at most PASS_CACHE_BYTES)."""
    masks = job.models * job.numel if job.params.get("rescale") else 0
    kept = min(PASS_CACHE_BYTES, 12 * job.models * job.numel)
    return block_memory(job) + masks + kept


def svd_memory(job: JobSize) -> int:
    """Whole-tensor SVD merges (tsv, iso_c, iso_cts): one input as stored, the inputs in the compute dtype, and
    in float32 at least (LAPACK has no bf16): the task matrices (one per model) and 9 tensor-sized operands, the
    sum, the SVD factors U and V (each at most m min(m, n) <= numel entries) and LAPACK's workspace, the
    concatenated bases and their polar factors, the update; then the output."""
    wide = max(job.element_size, 4)
    return (
        job.stored_bytes // max(1, job.refs)
        + job.refs * job.numel * job.element_size
        + (job.models + 9) * job.numel * wide
        + job.out_bytes
    )
