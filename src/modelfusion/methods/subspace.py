"""Primitives of the SVD merge family (TSV-M, Iso-C, Iso-CTS): task matrices, polar factors, the fallback.

    delta_i = theta_i - theta_base                    (task matrices, in float32 at least: LAPACK has no bf16)
    polar(X) = P Q^T  for the thin SVD X = P S Q^T    (the nearest matrix with orthonormal columns or rows)
    fallback: theta_base + alpha mean_i delta_i       (tensors that are not 2-D, as the authors' code)

Gargiulo et al. 2025, "Task Singular Vectors: reducing task interference in model merging" (arXiv:2412.00081);
Marczak et al. 2025, "No task left behind: isotropic model merging with common and task-specific subspaces"
(arXiv:2502.04959).
"""

from __future__ import annotations

import torch


def task_matrices(tensors: list[torch.Tensor], base: torch.Tensor | None, method: str) -> list[torch.Tensor]:
    """[theta_i - theta_base] widened to float32 (kept in float64 if given float64)."""
    if base is None:
        raise ValueError(f"{method} needs base_model")
    if not tensors:
        raise ValueError(f"{method} needs at least one model besides the base")
    dtype = torch.promote_types(base.dtype, torch.float32)
    wide_base = base.to(dtype)
    return [t.to(dtype) - wide_base for t in tensors]


def polar(x: torch.Tensor) -> torch.Tensor:
    """P Q^T from the thin SVD x = P S Q^T: orthonormal columns (tall x) or rows (wide x), same shape as x."""
    p, _, qh = torch.linalg.svd(x, full_matrices=False)
    return p @ qh


def mean_update(deltas: list[torch.Tensor]) -> torch.Tensor:
    """mean_i delta_i, accumulated in model order."""
    total = deltas[0].clone()
    for d in deltas[1:]:
        total.add_(d)
    return total.div_(len(deltas))


def apply_update(base: torch.Tensor, update: torch.Tensor, alpha: float) -> torch.Tensor:
    """theta_base + alpha update, in the base's dtype."""
    return (base.to(update.dtype) + alpha * update).to(base.dtype)
