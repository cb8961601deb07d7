"""Which job starts next: the largest one that fits the memory left in the budget.

Largest first keeps big jobs from being left for the end, where they would run while the other workers sit
idle (longest-processing-time-first scheduling); letting smaller jobs skip ahead while a big one does not fit
keeps every worker busy and no two big jobs in memory at once.
"""

from __future__ import annotations

import bisect
from typing import Generic, TypeVar

T = TypeVar("T")


class AdmissionQueue(Generic[T]):
    """Items with their memory needs, taken largest-that-fits first (equal needs in the given order)."""

    def __init__(self, items: list[tuple[T, int]]):
        # Ascending by need, equal needs in reverse order: the next item is the rightmost that fits, so the
        # common case (everything fits) pops from the end in O(1).
        ranked = sorted(range(len(items)), key=lambda i: (items[i][1], -i))
        self._items = [items[i][0] for i in ranked]
        self._needs = [items[i][1] for i in ranked]

    def __len__(self) -> int:
        return len(self._items)

    def take(self, free: int, alone: bool) -> tuple[T, int] | None:
        """The largest item needing at most `free` bytes; when `alone` (nothing else running) and none fits,
        the largest of all. None if nothing may start."""
        if not self._items:
            return None
        i = bisect.bisect_right(self._needs, free) - 1
        if i < 0:
            if not alone:
                return None
            i = len(self._items) - 1
        return self._items.pop(i), self._needs.pop(i)
