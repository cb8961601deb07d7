"""Statistics kept per (layer, module kind) and rolled up per layer, per module kind and in total.

Every statistics class here is a sum over elements, so a coarser group is the `+` of its finer groups.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from modelfusion.analysis.module_kind import KINDS


class Additive(Protocol):
    def __add__(self, other, /): ...


S = TypeVar("S", bound=Additive)
GroupKey = tuple[int | None, str]
"""(layer index, or None outside the layer stack; module kind)."""


class GroupedStats(Generic[S]):
    """A map (layer, kind) -> statistics, filled tensor by tensor with `add`."""

    def __init__(self, empty: Callable[[], S]) -> None:
        self._empty = empty
        self.groups: dict[GroupKey, S] = {}

    def add(self, key: GroupKey, stats: S) -> None:
        self.groups[key] = self.groups[key] + stats if key in self.groups else stats

    def _roll(self, keep: Callable[[GroupKey], bool]) -> S:
        total = self._empty()
        for key, stats in self.groups.items():
            if keep(key):
                total = total + stats
        return total

    @property
    def layers(self) -> list[int]:
        return sorted({layer for layer, _ in self.groups if layer is not None})

    @property
    def kinds(self) -> list[str]:
        present = {kind for _, kind in self.groups}
        return [k for k in KINDS if k in present]

    def total(self) -> S:
        return self._roll(lambda key: True)

    def by_layer(self) -> dict[int, S]:
        return {layer: self._roll(lambda key, layer=layer: key[0] == layer) for layer in self.layers}

    def by_kind(self) -> dict[str, S]:
        return {kind: self._roll(lambda key, kind=kind: key[1] == kind) for kind in self.kinds}

    def outside_layers(self) -> S | None:
        """Tensors outside the numbered layer stack (embeddings, final norm, heads), or None if there are none."""
        if all(layer is not None for layer, _ in self.groups):
            return None
        return self._roll(lambda key: key[0] is None)

    def cell(self, layer: int, kind: str) -> S | None:
        return self.groups.get((layer, kind))
