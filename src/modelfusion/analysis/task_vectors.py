"""Task-vector statistics of one tensor, as additive sums so they roll up over tensors, layers and module types.

For models theta_1..theta_n fine-tuned from theta_base, the task vectors are tau_i = theta_i - theta_base.
Over a group of tensors (all elements concatenated):

- norm_i = ||tau_i||_2; relative norm_i = ||tau_i|| / ||theta_base||.
- cosine_ij = <tau_i, tau_j> / (||tau_i|| ||tau_j||).
- TIES view at density d (Yadav et al. 2023, "TIES-Merging", arXiv:2306.01708): trim each tau_i, tensor by tensor,
  to its k = int(d * numel) largest-magnitude entries (d = 1 keeps all); elect the sign per position
  gamma = sign(sum_i trim(tau_i)); a kept value agrees when sign(trim(tau_i)) == gamma.
  * sign-conflict rate = #positions where the kept values have both signs (some > 0 and some < 0)
    / #positions where at least one kept value is non-zero.
  * elected share_i = sum |trim(tau_i)| over its agreeing entries / the same sum over all models: the share of
    each model in the mass TIES keeps after trimming and election.
  * election loss = 1 - (sum of agreeing kept mass) / (sum of all kept mass): what sign election throws away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


def trim_to_density(delta: torch.Tensor, density: float) -> torch.Tensor:
    """Keep the k = int(density * numel) largest |values| of `delta` (flattened), zero the rest (TIES's trim step)."""
    flat = delta.flatten()
    if density >= 1.0:
        return flat
    k = int(density * flat.numel())
    out = torch.zeros_like(flat)
    if k > 0:
        idx = flat.abs().topk(k, sorted=False).indices
        out[idx] = flat[idx]
    return out


def _zeros(n: int) -> list[float]:
    return [0.0] * n


@dataclass
class TaskVectorStats:
    """Sums over the elements of a group of tensors for n task vectors. Add two with `+`."""

    models: int
    numel: int = 0
    base_sq: float = 0.0
    sq: list[float] = field(default_factory=list)
    dot: list[list[float]] = field(default_factory=list)
    active: int = 0
    conflicts: int = 0
    kept_mass: list[float] = field(default_factory=list)
    elected_mass: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.models
        self.sq = self.sq or _zeros(n)
        self.dot = self.dot or [_zeros(n) for _ in range(n)]
        self.kept_mass = self.kept_mass or _zeros(n)
        self.elected_mass = self.elected_mass or _zeros(n)

    def __add__(self, other: TaskVectorStats) -> TaskVectorStats:
        n = self.models
        return TaskVectorStats(
            models=n,
            numel=self.numel + other.numel,
            base_sq=self.base_sq + other.base_sq,
            sq=[a + b for a, b in zip(self.sq, other.sq)],
            dot=[[self.dot[i][j] + other.dot[i][j] for j in range(n)] for i in range(n)],
            active=self.active + other.active,
            conflicts=self.conflicts + other.conflicts,
            kept_mass=[a + b for a, b in zip(self.kept_mass, other.kept_mass)],
            elected_mass=[a + b for a, b in zip(self.elected_mass, other.elected_mass)],
        )

    # -- derived ---------------------------------------------------------------------------------------
    def norm(self, i: int) -> float:
        return math.sqrt(self.sq[i])

    def relative_norm(self, i: int) -> float:
        return math.sqrt(self.sq[i] / self.base_sq) if self.base_sq > 0 else math.nan

    def cosine(self, i: int, j: int) -> float:
        denom = math.sqrt(self.sq[i] * self.sq[j])
        return self.dot[i][j] / denom if denom > 0 else math.nan

    @property
    def conflict_rate(self) -> float:
        return self.conflicts / self.active if self.active else math.nan

    def elected_share(self, i: int) -> float:
        total = sum(self.elected_mass)
        return self.elected_mass[i] / total if total > 0 else math.nan

    @property
    def election_loss(self) -> float:
        kept = sum(self.kept_mass)
        return 1.0 - sum(self.elected_mass) / kept if kept > 0 else math.nan

    def mean_pairwise_cosine(self) -> float:
        pairs = [self.cosine(i, j) for i in range(self.models) for j in range(i + 1, self.models)]
        pairs = [c for c in pairs if not math.isnan(c)]
        return sum(pairs) / len(pairs) if pairs else math.nan


def _sum64(t: torch.Tensor) -> float:
    return float(t.sum(dtype=torch.float64))


def tensor_stats(base: torch.Tensor, deltas: list[torch.Tensor], density: float) -> TaskVectorStats:
    """Statistics of one tensor: `deltas[i]` = tau_i (same shape as `base`), trimmed at `density` for the TIES view."""
    n = len(deltas)
    flat = [d.flatten().float() for d in deltas]
    stats = TaskVectorStats(models=n, numel=base.numel(), base_sq=_sum64(base.float().square()))
    for i in range(n):
        for j in range(i, n):
            value = _sum64(flat[i] * flat[j])
            stats.dot[i][j] = stats.dot[j][i] = value
        stats.sq[i] = stats.dot[i][i]
    trimmed = [trim_to_density(f, density) for f in flat]
    elected = torch.sign(torch.stack(trimmed).sum(0)) if n else None
    any_pos = torch.zeros(base.numel(), dtype=torch.bool, device=base.device)
    any_neg = torch.zeros_like(any_pos)
    for i, t in enumerate(trimmed):
        any_pos |= t > 0
        any_neg |= t < 0
        stats.kept_mass[i] = _sum64(t.abs())
        agree = (torch.sign(t) == elected) & (t != 0)
        stats.elected_mass[i] = _sum64(t.abs() * agree)
    stats.active = int((any_pos | any_neg).sum())
    stats.conflicts = int((any_pos & any_neg).sum())
    return stats
