"""One module's LoRA factors from several adapters merged into one (A, B) pair, as PEFT 0.21's
`add_weighted_adapter` computes them. Adapter i gives A_i [r_i, in], B_i [out, r_i], scaling s_i, weight w_i;
the merged adapter has scaling 1 (lora_alpha = r), so its update is B A.

    cat                 A = [w_i s_i A_i] stacked by rows, B = [B_i] by columns: B A = sum_i w_i s_i B_i A_i exactly
    linear, ties, dare_linear, dare_ties, magnitude_prune  (on the factors, not on the products)
                        A = combine([A_i], sign(w_i s_i) sqrt|w_i s_i|),  B = combine([B_i], sqrt|w_i s_i|)
                        For `linear` B A = sum_i sum_j sqrt(.) sqrt(.) B_i A_j: the cross terms i != j make it an
                        approximation of sum_i w_i s_i B_i A_i, as PEFT warns; all r_i must be equal.
    svd, ties_svd, dare_linear_svd, dare_ties_svd, magnitude_prune_svd  (on the products)
                        Delta = combine([s_i B_i A_i], w_i), then truncated to rank k by SVD:
                        B = U_k S_k, A = V_k^T (methods/low_rank.svd_factors)

`combine` is methods/peft_combine.py (PEFT's conventions for density, sign election and the disjoint mean). Work is
done in float32 (float64 when the factors are float64); the caller casts the result.
"""

from __future__ import annotations

import torch

from modelfusion.methods.low_rank import concat_factors, split_weight, svd_factors
from modelfusion.methods.peft_combine import COMBINATIONS, SignMethod, combine

SVD_TYPES = tuple(["svd"] + [f"{c}_svd" for c in COMBINATIONS if c != "linear"])
FACTOR_TYPES = COMBINATIONS
MERGE_TYPES: tuple[str, ...] = ("cat", *FACTOR_TYPES, *SVD_TYPES)


def _work(t: torch.Tensor) -> torch.Tensor:
    return t.double() if t.dtype == torch.float64 else t.float()


def merge_factors(
    kind: str,
    factors: list[tuple[torch.Tensor, torch.Tensor]],
    scales: list[float],
    weights: list[float],
    *,
    rank: int | None = None,
    density: float | None = None,
    sign_method: SignMethod = "total",
    svd_clamp: float | None = None,
    generator: torch.Generator | None = None,
    transpose: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, B) of the merged module. `factors`: (A_i, B_i) of the adapters holding this module, in order; `rank`:
    the SVD types' k (at most min(out, in)). Random draws (dare types) come from `generator`, in PEFT's order:
    every A_i, then every B_i (factor types) or every product (SVD types). `transpose`: the module's weight is
    (B A)^T (an embedding, or fan_in_fan_out); the SVD types then combine the products in that layout, as PEFT
    does (it matters for the random drops' layout only), and transpose the result back before the SVD."""
    if kind not in MERGE_TYPES:
        raise ValueError(f"unknown combination type {kind!r}; one of {', '.join(MERGE_TYPES)}")
    factors = [(_work(a), _work(b)) for a, b in factors]
    if kind == "cat":
        return concat_factors(factors, weights, scales)
    options = {"density": density, "sign_method": sign_method, "generator": generator}
    if kind in FACTOR_TYPES:
        if len({a.shape for a, _ in factors}) > 1:
            raise ValueError(f"`{kind}` needs adapters of equal rank here, got {[a.shape[0] for a, _ in factors]}")
        split = [split_weight(w, s) for w, s in zip(weights, scales, strict=True)]
        wa = torch.tensor([x for x, _ in split])
        wb = torch.tensor([y for _, y in split])
        a = combine(kind, [a for a, _ in factors], wa, **options)
        b = combine(kind, [b for _, b in factors], wb, **options)
        return a, b
    deltas = [((b @ a).T if transpose else b @ a) * s for (a, b), s in zip(factors, scales, strict=True)]
    base_kind = "linear" if kind == "svd" else kind.removesuffix("_svd")
    delta = combine(base_kind, deltas, torch.tensor(weights), **options)
    delta = delta.T if transpose else delta
    k = min(rank or max(a.shape[0] for a, _ in factors), *delta.shape)
    return svd_factors(delta, k, clamp=svd_clamp)
