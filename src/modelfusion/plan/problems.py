"""Collects every problem found while planning, so all are reported together."""

from __future__ import annotations

from modelfusion.errors import PlanError

MAX_REPORTED = 40


class Problems:
    def __init__(self) -> None:
        self._items: dict[str, None] = {}

    def add(self, message: str) -> None:
        self._items.setdefault(message, None)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def raise_if_any(self, where: str | None = None) -> None:
        if not self._items:
            return
        items = list(self._items)
        if len(items) > MAX_REPORTED:
            items = [*items[:MAX_REPORTED], f"... and {len(items) - MAX_REPORTED} more"]
        raise PlanError(items, where)
