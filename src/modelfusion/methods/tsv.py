"""TSV-M: Task Singular Vectors merge, each task's top singular directions decorrelated and summed.

Gargiulo et al. 2025, "Task Singular Vectors: reducing task interference in model merging" (CVPR 2025,
arXiv:2412.00081), TSV-M, with the share k of each task as in the authors' code.
"""

from __future__ import annotations

import torch

from modelfusion.methods.subspace import apply_update, mean_update, polar, task_matrices


def tsv_update(deltas: list[torch.Tensor]) -> torch.Tensor:
    """For T task matrices delta_i = U_i S_i V_i^T of shape [m, n], r = min(m, n), k = int(r * (1 / T)):

        U = [U_1[:, :k] ... U_T[:, :k]],  S = diag(S_1[:k] ... S_T[:k]),  V = [V_1[:, :k] ... V_T[:, :k]]
        update = polar(U) S polar(V)^T

    (polar(U) = P Q^T from the SVD U = P Sigma Q^T: the orthonormal basis nearest to U, which removes the
    interference between the tasks' directions.) When k = 0 (fewer directions than tasks) the mean task matrix.
    """
    rank = min(deltas[0].shape)
    k = int(rank * (1.0 / len(deltas)))
    if k == 0:
        return mean_update(deltas)
    us, ss, vhs = [], [], []
    for delta in deltas:
        u, s, vh = torch.linalg.svd(delta, full_matrices=False)
        us.append(u[:, :k])
        ss.append(s[:k])
        vhs.append(vh[:k])
        del u, vh
    u_hat, vh_hat = polar(torch.cat(us, dim=1)), polar(torch.cat(vhs, dim=0))
    return (u_hat * torch.cat(ss)) @ vh_hat


def tsv(tensors: list[torch.Tensor], *, base: torch.Tensor | None, alpha: float) -> torch.Tensor:
    """theta = theta_base + alpha tsv_update(delta_1..T) for a 2-D tensor, delta_i = theta_i - theta_base;
    any other tensor: theta_base + alpha mean_i delta_i (the authors' code). Computed in float32 at least."""
    deltas = task_matrices(tensors, base, "tsv")
    assert base is not None
    update = tsv_update(deltas) if deltas[0].dim() == 2 else mean_update(deltas)
    return apply_update(base, update, alpha)
