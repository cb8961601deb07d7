"""Weighted averaging of weights ("model soups").

Wortsman et al. 2022, "Model soups: averaging weights of multiple fine-tuned models improves accuracy
without increasing inference time" (arXiv:2203.05482).
"""

from __future__ import annotations

import torch


def linear(tensors: list[torch.Tensor], *, weight: list[float], normalize: bool = True) -> torch.Tensor:
    """theta = sum_i w_i theta_i / (sum_i w_i if normalize else 1).

    With all w_i equal and normalize=True this is the simple average. Accumulates model by model (one
    elementwise multiply-add each), so the result does not depend on thread counts.
    """
    if len(weight) != len(tensors):
        raise ValueError(f"linear: {len(tensors)} tensors but {len(weight)} weights")
    out = tensors[0] * weight[0]
    for w, t in zip(weight[1:], tensors[1:]):
        out.add_(t, alpha=w)
    if normalize:
        total = sum(weight)
        if total == 0:
            raise ValueError("linear: weights sum to zero, cannot normalize")
        out.div_(total)
    return out
