"""Exact rank windows over a tensor read in blocks, without sorting it or holding it whole.

An entry's rank is its position when the entries are ordered by magnitude (ascending, or descending), equal
magnitudes in index order (a stable sort's order). A window keeps the ranks [low, high). Its two boundary
values are found by selection over integer keys (a float's IEEE bits order like the float when it is >= 0):
1. a histogram of each key's top 16 bits over all blocks locates the bin that holds the boundary rank;
2. a histogram of the low 16 bits of the keys in that bin, block by block, gives the exact boundary key and
   how many keys equal to it each block holds. Memory: two 65,536-bin histograms per block, whatever the
   distribution (float64 keys gather the bin's entries instead and select among them with `kthvalue`).
Entries equal to a boundary are admitted in index order, counting the ties in earlier blocks. The mask is the
same as a stable sort's, so the result does not depend on how the tensor was split.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from modelfusion.methods.blocks import Block, BlockSource, WholeTensors, blocks

BINS = 1 << 16
"""Histogram bins: the top 16 bits of a key (sign, exponent and 7 mantissa bits of a float32)."""

DIRECT_SELECTION_MAX = 1 << 16
"""Up to this many entries (one block), a window is resolved with `kthvalue` directly."""

KeysFn = Callable[[Block], "list[torch.Tensor | None]"]
"""(block) -> one key tensor per model (None for a model without a window)."""


@dataclass(frozen=True)
class RankWindow:
    """Ranks [low, high) of the entries ordered by magnitude (largest first when `descending`)."""

    low: int
    high: int
    descending: bool


def order_keys(magnitude: torch.Tensor, descending: bool) -> torch.Tensor:
    """Integer keys that order like `magnitude` (entries >= 0): its IEEE bits, or their complement when
    `descending`. float64 keeps its 64 bits; other float dtypes are widened to float32 (exact)."""
    if magnitude.dtype == torch.float64:
        bits = magnitude.contiguous().view(torch.int64)
    else:
        bits = magnitude.to(torch.float32).contiguous().view(torch.int32)
    return torch.bitwise_not(bits) if descending else bits


def _bins(keys: torch.Tensor) -> torch.Tensor:
    return (keys >> (keys.element_size() * 8 - 16)) + BINS // 2


@dataclass(frozen=True)
class Cut:
    """One boundary: the key at the boundary rank, how many keys are smaller, and how many keys equal to it come
    before each block (one entry per block, then the total)."""

    value: int
    less: int
    ties_before: tuple[int, ...]


@dataclass(frozen=True)
class WindowCuts:
    """A window resolved over one tensor: `mask(keys, block)` keeps the block's entries ranked in the window."""

    window: RankWindow
    n: int
    lower: Cut | None
    upper: Cut | None

    def mask(self, keys: torch.Tensor, block: int) -> torch.Tensor:
        low, high = max(0, self.window.low), min(self.n, self.window.high)
        if high <= low:
            return torch.zeros_like(keys, dtype=torch.bool)
        if self.lower is None and self.upper is None:
            return torch.ones_like(keys, dtype=torch.bool)
        flat = keys.flatten()
        mask = None
        if self.lower is not None:
            mask = flat > self.lower.value
        if self.upper is not None:
            below = flat < self.upper.value
            mask = below if mask is None else mask & below
        boundaries = {c.value: c for c in (self.lower, self.upper) if c is not None}
        for cut in boundaries.values():
            # This block's ties have ranks less + before + j, j = 0 .. tied - 1; the window admits j in [first, last).
            before, tied = cut.ties_before[block], cut.ties_before[block + 1] - cut.ties_before[block]
            first, last = max(0, low - cut.less - before), min(tied, high - cut.less - before)
            if last <= first:
                continue
            equal = flat == cut.value
            if first == 0 and last == tied:  # every tie of this block (all blocks but the cut's own)
                mask |= equal
            else:
                mask[equal.nonzero().squeeze(1)[first:last]] = True  # positions in index order
        return mask.view(keys.shape)


def _boundary_ranks(window: RankWindow, n: int) -> tuple[int | None, int | None]:
    """The ranks whose values bound the window: (low, high - 1), None where the window reaches that end."""
    low, high = max(0, window.low), min(n, window.high)
    if high <= low:
        return None, None
    return (low if low > 0 else None), (high - 1 if high < n else None)


def _cut_gathered(candidates: list[torch.Tensor], b: int | None, rank_in: int, below: int) -> Cut:
    """The cut at rank `below + rank_in` given the keys of its bin (b), block by block."""
    joined = torch.cat([c.flatten() for c in candidates])
    value = int(joined.kthvalue(rank_in + 1).values)
    less = below + int((joined < value).sum())
    ties, before = [], 0
    for c in candidates:
        ties.append(before)
        before += int((c == value).sum())
    return Cut(value, less, (*ties, before))


def _low_bit_counts(keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct low 16 bits of int32 keys and how often each occurs (int64, on the CPU)."""
    low = keys & 0xFFFF
    if low.numel() > BINS // 8:  # many keys: one dense count, then its nonzero bins
        dense = torch.bincount(low, minlength=BINS).cpu()
        values = dense.nonzero().squeeze(1)
        return values, dense[values]
    values, n = torch.unique(low, return_counts=True)
    return values.to(device="cpu", dtype=torch.int64), n.to(device="cpu", dtype=torch.int64)


def _cut_by_low_bits(counts: list[tuple[torch.Tensor, torch.Tensor]], b: int, rank_in: int, below: int) -> Cut:
    """The cut at rank `below + rank_in`, from each block's (low 16 bits, count) pairs of bin b's int32 keys."""
    total = torch.zeros(BINS, dtype=torch.int64)
    for values, n in counts:
        total.index_add_(0, values, n)
    cum = total.cumsum(0)
    low = int(torch.searchsorted(cum, torch.tensor([rank_in]), right=True)[0])
    value = (b - BINS // 2) * BINS + low
    ties, before = [], 0
    for values, n in counts:
        ties.append(before)
        before += int(n[values == low].sum())
    return Cut(value, below + (int(cum[low - 1]) if low > 0 else 0), (*ties, before))


def find_cuts(
    source: BlockSource, keys_of: KeysFn, windows: list[RankWindow | None], n: int
) -> list[WindowCuts | None]:
    """Resolve each model's window over all blocks of `source` (n entries per model).

    Small tensors: a direct selection (`kthvalue`) on their keys. Others: two passes over the blocks (histograms,
    then the boundary bins), about 5x cheaper per entry than `kthvalue` on the whole tensor.
    """
    requests = []  # (model, which, rank)
    for m, w in enumerate(windows):
        if w is not None:
            lo, hi = _boundary_ranks(w, n)
            requests += [(m, "lower", r) for r in (lo,) if r is not None]
            requests += [(m, "upper", r) for r in (hi,) if r is not None]
    cuts: dict[tuple[int, str], Cut] = {}
    if requests and source.count == 1 and n <= DIRECT_SELECTION_MAX:
        keys = keys_of(source.block(0))
        for m, which, r in requests:
            cuts[(m, which)] = _cut_gathered([keys[m]], None, r, 0)
    elif requests:
        models = sorted({m for m, _, _ in requests})
        hist = {m: torch.zeros(BINS, dtype=torch.int64) for m in models}
        for block in blocks(source):
            keys = keys_of(block)
            for m in models:
                hist[m] += torch.bincount(_bins(keys[m]).flatten(), minlength=BINS).cpu()
        located = []  # (model, which, bin, rank within the bin, entries in lower bins)
        for m, which, r in requests:
            cum = hist[m].cumsum(0)
            b = int(torch.searchsorted(cum, torch.tensor([r]), right=True)[0])
            located.append((m, which, b, r - (int(cum[b - 1]) if b > 0 else 0), int(cum[b - 1]) if b > 0 else 0))
        # int32 keys: the low 16 bits order the keys of one bin, so a second histogram finds the exact key without
        # holding the bin's entries (all of them when most magnitudes are equal, e.g. an unchanged embedding's zero
        # deltas). int64 keys (float64 merges) keep the bin's entries and select among them.
        second: list[list] = [[] for _ in located]  # per block: (low bits, counts), or the bin's int64 keys
        low_bits = [True] * len(located)
        for block in blocks(source):
            keys = keys_of(block)
            for j, (m, _, b, _, _) in enumerate(located):
                k = keys[m].flatten()
                inside = k[_bins(k) == b]
                low_bits[j] = k.dtype == torch.int32
                # a sparse histogram: a bin holds few distinct low bits per block, so this stays small
                second[j].append(_low_bit_counts(inside) if low_bits[j] else inside)
        for j, (m, which, b, rank_in, below) in enumerate(located):
            cut = _cut_by_low_bits if low_bits[j] else _cut_gathered
            cuts[(m, which)] = cut(second[j], b, rank_in, below)
    return [
        None if w is None else WindowCuts(w, n, cuts.get((m, "lower")), cuts.get((m, "upper")))
        for m, w in enumerate(windows)
    ]


def window_mask(magnitude: torch.Tensor, window: RankWindow) -> torch.Tensor:
    """The window's mask over one whole tensor of magnitudes (entries >= 0)."""
    keys = order_keys(magnitude, window.descending)
    cuts = find_cuts(WholeTensors([keys], None, None), lambda b: [keys], [window], magnitude.numel())[0]
    return cuts.mask(keys, 0)
