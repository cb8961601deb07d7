"""What a merge did, tensor by tensor, from its inputs and its output (for `modelfusion merge --report`).

With a base model (task-vector methods, SLERP): tau_i = theta_i - theta_base, delta = theta_out - theta_base, where
theta_base is first rounded to the output dtype so values the method left at the base count as unchanged.
- changed fraction = #(delta != 0) / numel: the share of values the merge moved (TIES/DARE at density d keep few).
- kept_i = #(tau_i != 0 and sign(tau_i) == sign(delta) != 0) / #(tau_i != 0): the share of model i's changes that
  survive in the output's direction.
- sign-conflict rate = #positions where the tau_i have both signs / #positions where some tau_i != 0.
- agreement share_i = sum |tau_i| over positions where delta != 0 and sign(tau_i) == sign(delta), divided by the
  same sum over all models: each model's share of the mass that points where the merge went.
Always (v_i = tau_i with a base, else v_i = theta_i, y = delta or theta_out):
- effective weights a = argmin_a ||y - sum_i a_i v_i||^2, from the Gram sums G_ij = <v_i, v_j>, b_i = <v_i, y>
  (least squares, minimum norm); linear fit = a.b / ||y||^2, the share of ||y||^2 that a linear combination of the
  inputs explains (1 for linear / task arithmetic, below 1 for TIES, DARE, SLERP).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


def _sum64(t: torch.Tensor) -> float:
    return float(t.sum(dtype=torch.float64))


@dataclass
class MergeStats:
    """Sums for n input models over a group of output elements. Add two with `+`."""

    models: int
    with_base: bool = True
    numel: int = 0
    changed: int = 0
    active: int = 0
    conflicts: int = 0
    nonzero: list[float] = field(default_factory=list)
    kept: list[float] = field(default_factory=list)
    agree_mass: list[float] = field(default_factory=list)
    gram: list[list[float]] = field(default_factory=list)
    proj: list[float] = field(default_factory=list)
    target_sq: float = 0.0

    def __post_init__(self) -> None:
        n = self.models
        self.nonzero = self.nonzero or [0.0] * n
        self.kept = self.kept or [0.0] * n
        self.agree_mass = self.agree_mass or [0.0] * n
        self.gram = self.gram or [[0.0] * n for _ in range(n)]
        self.proj = self.proj or [0.0] * n

    def __add__(self, other: MergeStats) -> MergeStats:
        n = self.models

        def add(a: list[float], b: list[float]) -> list[float]:
            return [x + y for x, y in zip(a, b)]

        return MergeStats(
            models=n,
            with_base=self.with_base and other.with_base,
            numel=self.numel + other.numel,
            changed=self.changed + other.changed,
            active=self.active + other.active,
            conflicts=self.conflicts + other.conflicts,
            nonzero=add(self.nonzero, other.nonzero),
            kept=add(self.kept, other.kept),
            agree_mass=add(self.agree_mass, other.agree_mass),
            gram=[add(self.gram[i], other.gram[i]) for i in range(n)],
            proj=add(self.proj, other.proj),
            target_sq=self.target_sq + other.target_sq,
        )

    # -- derived ---------------------------------------------------------------------------------------
    @property
    def changed_fraction(self) -> float:
        return self.changed / self.numel if self.with_base and self.numel else math.nan

    @property
    def conflict_rate(self) -> float:
        return self.conflicts / self.active if self.with_base and self.active else math.nan

    def kept_fraction(self, i: int) -> float:
        return self.kept[i] / self.nonzero[i] if self.with_base and self.nonzero[i] else math.nan

    def agreement_share(self, i: int) -> float:
        total = sum(self.agree_mass)
        return self.agree_mass[i] / total if self.with_base and total > 0 else math.nan

    def effective_weights(self) -> list[float]:
        if self.target_sq == 0 and not any(any(row) for row in self.gram):
            return [math.nan] * self.models
        g = torch.tensor(self.gram, dtype=torch.float64)
        b = torch.tensor(self.proj, dtype=torch.float64).unsqueeze(1)
        a = torch.linalg.lstsq(g, b, driver="gelsd").solution.squeeze(1)
        return [float(x) for x in a]

    @property
    def linear_fit(self) -> float:
        if self.target_sq <= 0:
            return math.nan
        a = self.effective_weights()
        return sum(x * y for x, y in zip(a, self.proj)) / self.target_sq


def merge_tensor_stats(
    inputs: list[torch.Tensor], base: torch.Tensor | None, out: torch.Tensor, index: list[int], models: int
) -> MergeStats:
    """Statistics of one merged tensor. `index[k]` is the position of inputs[k] among all `models` of the merge."""
    compute = torch.float64 if inputs[0].dtype == torch.float64 else torch.float32
    out_c = out.to(device=inputs[0].device, dtype=compute).flatten()
    stats = MergeStats(models=models, with_base=base is not None, numel=out_c.numel())
    if base is not None:
        base_c = base.to(out.dtype).to(compute).flatten()
        vectors = [t.to(compute).flatten() - base_c for t in inputs]
        target = out_c - base_c
    else:
        vectors = [t.to(compute).flatten() for t in inputs]
        target = out_c
    for a, i in enumerate(index):
        stats.proj[i] = _sum64(vectors[a] * target)
        for b, j in enumerate(index[a:], start=a):
            stats.gram[i][j] = stats.gram[j][i] = _sum64(vectors[a] * vectors[b])
    stats.target_sq = _sum64(target.square())
    if base is None:
        return stats
    target_sign = torch.sign(target)
    stats.changed = int((target_sign != 0).sum())
    any_pos = torch.zeros_like(target, dtype=torch.bool)
    any_neg = torch.zeros_like(any_pos)
    for a, i in enumerate(index):
        v = vectors[a]
        any_pos |= v > 0
        any_neg |= v < 0
        agree = (torch.sign(v) == target_sign) & (target_sign != 0)
        stats.nonzero[i] = float((v != 0).sum())
        stats.kept[i] = float(agree.sum())
        stats.agree_mass[i] = _sum64(v.abs() * agree)
    stats.active = int((any_pos | any_neg).sum())
    stats.conflicts = int((any_pos & any_neg).sum())
    return stats
