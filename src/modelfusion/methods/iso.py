"""Iso-C and Iso-CTS: isotropic merging in the common subspace (and in task-specific subspaces).

Marczak et al. 2025, "No task left behind: isotropic model merging with common and task-specific subspaces"
(arXiv:2502.04959); subspace sizes and the flattened spectrum as in the authors' code.
"""

from __future__ import annotations

import torch

from modelfusion.methods.subspace import apply_update, mean_update, polar, task_matrices


def iso_c_update(deltas: list[torch.Tensor]) -> torch.Tensor:
    """delta_TA = sum_i delta_i = U S V^T (thin SVD, r = min(m, n) singular values);
    update = mean(S) U V^T: the summed task matrix with its spectrum flattened to the mean singular value."""
    total = deltas[0].clone()
    for d in deltas[1:]:
        total.add_(d)
    u, s, vh = torch.linalg.svd(total, full_matrices=False)
    return (u @ vh).mul_(s.mean())


def subspace_sizes(rank: int, tasks: int, common_space_fraction: float) -> tuple[int, int]:
    """(k, d): k common directions and d directions per task, k + T d = r.

    k0 = int(r * fraction); d = round((r - k0) / T) (Python's round, as the authors' code), capped at r // T so
    that k >= 0 (their code goes negative for a small fraction and odd r); k = r - T d."""
    k0 = int(rank * common_space_fraction)
    per_task = min(round((rank - k0) / tasks), rank // tasks)
    return rank - tasks * per_task, per_task


def iso_cts_update(deltas: list[torch.Tensor], common_space_fraction: float) -> torch.Tensor:
    """With (k, d) from subspace_sizes:

        sum_i delta_i = U S V^T;  U_c, S_c, V_c = its top k triplets        (common subspace)
        delta_i - U_c U_c^T delta_i = U_i S_i V_i^T, top d triplets each     (task-specific subspaces)
        U* = polar([U_1[:, :d] ... U_T[:, :d], U_c]),  V* likewise
        update = mean(S_1[:d], ..., S_T[:d], S_c) U* V*^T

    The spectrum is flattened to the mean of all the kept singular values (common and task-specific), as the
    authors' code. common_space_fraction = 1 is Iso-C.
    """
    rank = min(deltas[0].shape)
    k, d = subspace_sizes(rank, len(deltas), common_space_fraction)
    total = deltas[0].clone()
    for delta in deltas[1:]:
        total.add_(delta)
    u, s, vh = torch.linalg.svd(total, full_matrices=False)
    u_c, s_c, vh_c = u[:, :k], s[:k], vh[:k]
    del total, u, vh
    us, ss, vhs = [], [], []
    for delta in deltas if d > 0 else []:
        residual = delta - u_c @ (u_c.T @ delta)
        u_i, s_i, vh_i = torch.linalg.svd(residual, full_matrices=False)
        us.append(u_i[:, :d])
        ss.append(s_i[:d])
        vhs.append(vh_i[:d])
        del residual, u_i, vh_i
    u_star = polar(torch.cat([*us, u_c], dim=1))
    vh_star = polar(torch.cat([*vhs, vh_c], dim=0))
    return (u_star @ vh_star).mul_(torch.cat([*ss, s_c]).mean())


def iso_c(tensors: list[torch.Tensor], *, base: torch.Tensor | None, alpha: float) -> torch.Tensor:
    """theta = theta_base + alpha iso_c_update(delta_1..T) for a 2-D tensor, delta_i = theta_i - theta_base;
    any other tensor: theta_base + alpha mean_i delta_i (the authors' code). Computed in float32 at least."""
    deltas = task_matrices(tensors, base, "iso_c")
    assert base is not None
    update = iso_c_update(deltas) if deltas[0].dim() == 2 else mean_update(deltas)
    return apply_update(base, update, alpha)


def iso_cts(
    tensors: list[torch.Tensor], *, base: torch.Tensor | None, alpha: float, common_space_fraction: float
) -> torch.Tensor:
    """theta = theta_base + alpha iso_cts_update(delta_1..T, common_space_fraction) for a 2-D tensor; any other
    tensor: theta_base + alpha mean_i delta_i (the authors' code). Computed in float32 at least."""
    deltas = task_matrices(tensors, base, "iso_cts")
    assert base is not None
    update = iso_cts_update(deltas, common_space_fraction) if deltas[0].dim() == 2 else mean_update(deltas)
    return apply_update(base, update, alpha)
