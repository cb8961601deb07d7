"""RegMean: the linear weight that best fits every model's layer outputs on its own inputs, in closed form.

Jin et al. 2023, "Dataless knowledge fusion by merging weights of language models" (arXiv:2212.09849), eq. (2)
with the off-diagonal of each Gram matrix scaled by alpha (section 3.3; alpha = 1 is the exact least squares).
"""

from __future__ import annotations

import torch


def scaled_gram(gram: torch.Tensor, alpha: float) -> torch.Tensor:
    """G' = alpha G + (1 - alpha) diag(G): the off-diagonal shrunk by alpha, the diagonal kept."""
    return gram * alpha + torch.diag_embed(torch.diagonal(gram)) * (1 - alpha)


def regmean(
    tensors: list[torch.Tensor],
    *,
    weight: list[float],
    alpha: float,
    gram: list[torch.Tensor] | None,
) -> torch.Tensor:
    """For an [out, in] weight W_i with input Gram G_i = X_i^T X_i ([in, in]):

        W* = (sum_i W_i G_i') (sum_i G_i')^-1,   G_i' = alpha G_i + (1 - alpha) diag(G_i)

    (the paper's (sum_i G_i')^-1 sum_i G_i' W_i^T for its [in, out] layout), solved in float64. Tensors without
    Grams (not 2-D, or no linear layer): the weighted mean sum_i w_i W_i / sum_i w_i.
    """
    if gram is None:
        total = sum(weight)
        if total == 0:
            raise ValueError("regmean: weights sum to zero, cannot average")
        return sum(t * w for w, t in zip(weight, tensors)) / total
    if len(gram) != len(tensors):
        raise ValueError(f"regmean: {len(tensors)} tensors but {len(gram)} Gram matrices")
    grams = [scaled_gram(g.double(), alpha) for g in gram]
    rhs = sum(t.double() @ g for t, g in zip(tensors, grams))  # [out, in]
    lhs = sum(grams)  # [in, in], symmetric: W* lhs = rhs  <=>  lhs W*^T = rhs^T
    return torch.linalg.solve(lhs, rhs.T).T.to(tensors[0].dtype)
