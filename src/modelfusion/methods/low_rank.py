"""Low-rank factor algebra for LoRA updates Delta W = B A (B [out, r], A [r, in]): combining factors, truncating
a full update back to factors by SVD, and choosing a rank by kept spectral energy.

Eckart-Young: with Delta W = U S V^T, the best rank-k approximation in Frobenius norm is U_k S_k V_k^T, and its
relative error is  ||Delta W - U_k S_k V_k^T||_F / ||Delta W||_F = sqrt(sum_{j>k} s_j^2 / sum_j s_j^2).
"""

from __future__ import annotations

import math

import torch


def split_weight(weight: float, scale: float) -> tuple[float, float]:
    """PEFT's factor weights for w (B A) s: (sign(w s) sqrt|w s|, sqrt|w s|), the sign on A only, so that
    (sqrt|w s| B)(sign sqrt|w s| A) = w s B A."""
    ws = weight * scale
    root = math.sqrt(abs(ws))
    return (root if ws >= 0 else -root), root


def concat_factors(
    factors: list[tuple[torch.Tensor, torch.Tensor]], weights: list[float], scales: list[float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """`cat`: A = [w_1 s_1 A_1; w_2 s_2 A_2; ...] (rows), B = [B_1, B_2, ...] (columns), so that
    B A = sum_i w_i s_i B_i A_i exactly, at rank sum_i r_i. `factors`: (A_i, B_i) pairs."""
    a = torch.cat([fa * w * s for (fa, _), w, s in zip(factors, weights, scales, strict=True)], dim=0)
    b = torch.cat([fb for _, fb in factors], dim=1)
    return a, b


def svd_factors(
    delta: torch.Tensor, rank: int, clamp: float | None = None, full_matrices: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, B) = (V_k^T, U_k S_k) for Delta W = U S V^T (PEFT's `svd` combination; kohya's svd_merge_lora), k = rank.

    With `clamp` (a quantile q in [0, 1]), every entry of U_k S_k and V_k^T is clamped to [-h, h], h the q-quantile
    of their entries together, as PEFT's svd_clamp does."""
    u, s, vh = torch.linalg.svd(delta, full_matrices=full_matrices)
    u = u[:, :rank] @ torch.diag(s[:rank])
    vh = vh[:rank, :]
    if clamp is not None:
        high = torch.quantile(torch.cat([u.flatten(), vh.flatten()]), clamp)
        u = u.clamp(-high, high)
        vh = vh.clamp(-high, high)
    return vh, u


def balanced_factors(
    u: torch.Tensor, s: torch.Tensor, vh: torch.Tensor, rank: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, B) = (S_k^(1/2) V_k^T, U_k S_k^(1/2)): the rank-k truncation with the singular values split evenly
    between the factors (both of similar norm, as LoRA training produces them)."""
    root = s[:rank].sqrt()
    return (vh[:rank] * root[:, None]).contiguous(), (u[:, :rank] * root[None, :]).contiguous()


def energy_rank(s: torch.Tensor, energy: float) -> int:
    """The smallest k with sum_{j<=k} s_j^2 >= energy * sum_j s_j^2 (s descending); at least 1."""
    power = s.double().square()
    total = float(power.sum())
    if total == 0:
        return 1
    kept = torch.cumsum(power, 0) / total
    return max(1, min(int(torch.searchsorted(kept, torch.tensor(energy, dtype=kept.dtype) - 1e-12)) + 1, len(s)))


def relative_error(s: torch.Tensor, rank: int) -> float:
    """sqrt(sum_{j>k} s_j^2 / sum_j s_j^2): the relative Frobenius error of the rank-k truncation (0 for 0)."""
    power = s.double().square()
    total = float(power.sum())
    return 0.0 if total == 0 else math.sqrt(max(0.0, float(power[rank:].sum())) / total)
