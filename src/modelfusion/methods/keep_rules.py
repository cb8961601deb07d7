"""Which task-vector entries survive sparsification: one rule per model, applied block by block.

- KeepAll: nothing dropped (task arithmetic).
- KeepWindow: a magnitude rank window over the whole tensor (TIES trim: the k largest; Breadcrumbs: drop the
  largest and the smallest); resolved exactly by `rank_cut.find_cuts` before any output block.
- KeepRandom: DARE, keep each entry with probability `density` (Yu et al. 2023).
- KeepRanked: DELLA MagPrune, within each row of m entries the entry of ascending-magnitude rank r is kept with
  p_r = density - epsilon + 2 epsilon r / (m - 1) (Deep et al. 2024).
Counts follow mergekit: with n entries, k = floor(density * n) are kept by the magnitude rules. A rule's `mask`
may be given the block's magnitude keys (`rank_cut.order_keys`) when the caller kept them from an earlier pass.
Masks are bool (magnitude windows) or float32 0 / 1 (random rules); either multiplies a task vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from modelfusion.methods.bernoulli import bernoulli_mask
from modelfusion.methods.catalog.task_vector_methods import della_range_problem
from modelfusion.methods.rank_cut import RankWindow, WindowCuts, order_keys
from modelfusion.methods.row_order import stable_row_order


def keep_count(density: float, n: int) -> int:
    """floor(density * n), clipped to [0, n]."""
    return max(0, min(n, int(density * n)))


class _LocalRule:
    """A rule that decides each entry within its block: no window to resolve over the whole tensor first."""

    def window(self, n: int) -> RankWindow | None:
        return None


@dataclass(frozen=True)
class KeepAll(_LocalRule):
    def mask(
        self, delta: torch.Tensor, cuts: WindowCuts | None, block: int, generator, keys: torch.Tensor | None = None
    ) -> torch.Tensor | None:
        return None


class _MagnitudeWindow:
    """A rule whose mask is a magnitude rank window over the whole tensor, resolved before any output block."""

    def mask(
        self, delta: torch.Tensor, cuts: WindowCuts | None, block: int, generator, keys: torch.Tensor | None = None
    ) -> torch.Tensor | None:
        if cuts is None:
            return None
        return cuts.mask(order_keys(delta.abs(), cuts.window.descending) if keys is None else keys, block)


@dataclass(frozen=True)
class KeepLargest(_MagnitudeWindow):
    """TIES trim: the k = floor(density n) entries of largest |delta|, equal magnitudes in index order."""

    density: float

    def window(self, n: int) -> RankWindow | None:
        return None if self.density >= 1 else RankWindow(0, keep_count(self.density, n), descending=True)


@dataclass(frozen=True)
class KeepMiddle(_MagnitudeWindow):
    """Breadcrumbs: with kept = floor(density n) and top = min(floor(gamma n), n - kept), the `top` largest |delta|
    are dropped, then the n - kept - top smallest: ascending ranks [n - top - kept, n - top) survive."""

    density: float
    gamma: float

    def window(self, n: int) -> RankWindow | None:
        kept = keep_count(self.density, n)
        top = min(keep_count(self.gamma, n), n - kept)
        return RankWindow(n - top - kept, n - top, descending=False)


@dataclass(frozen=True)
class KeepRandom(_LocalRule):
    """DARE drop: m_j ~ Bernoulli(density) from the block's generator (`bernoulli.bernoulli_mask`)."""

    density: float

    def mask(
        self, delta: torch.Tensor, cuts: WindowCuts | None, block: int, generator, keys: torch.Tensor | None = None
    ) -> torch.Tensor | None:
        if self.density >= 1:
            return None
        return bernoulli_mask(delta.shape, self.density, generator, delta.device)


@dataclass(frozen=True)
class KeepRanked(_LocalRule):
    """DELLA MagPrune: per row, the entry of rank r is kept with probability p_r (one stable ascending order of
    the row's magnitudes, `row_order.stable_row_order`; the draws are taken in rank order and scattered back)."""

    density: float
    epsilon: float

    def mask(
        self, delta: torch.Tensor, cuts: WindowCuts | None, block: int, generator, keys: torch.Tensor | None = None
    ) -> torch.Tensor | None:
        if self.density >= 1:
            return None
        if problem := della_range_problem(self.density, self.epsilon):
            raise ValueError(problem)
        if delta.dim() == 0:
            return bernoulli_mask((), self.density, generator, delta.device)
        rows = order_keys(delta.reshape(-1, delta.shape[-1]).abs(), descending=False)
        m = rows.shape[-1]
        order = stable_row_order(rows)
        step = 2 * self.epsilon / (m - 1) if m > 1 else 0.0
        probs = (self.density - self.epsilon) + torch.arange(m, dtype=torch.float64, device=delta.device) * step
        kept_in_order = bernoulli_mask(rows.shape, probs, generator, delta.device)
        mask = torch.empty_like(kept_in_order)
        mask.scatter_(-1, order, kept_in_order)
        return mask.view(delta.shape)


KeepRule = KeepAll | KeepLargest | KeepMiddle | KeepRandom | KeepRanked
