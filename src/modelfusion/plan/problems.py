"""Collects every problem found while planning, so all are reported together, and the warnings (recipe settings
that do nothing here); `strict` makes each warning a problem."""

from __future__ import annotations

from modelfusion.errors import PlanError

MAX_REPORTED = 40


class Problems:
    def __init__(self, strict: bool = False) -> None:
        self._items: dict[str, None] = {}
        self._warnings: dict[str, None] = {}
        self.strict = strict

    def add(self, message: str) -> None:
        self._items.setdefault(message, None)

    def warn(self, message: str) -> None:
        """A setting that has no effect: a warning, or a problem when strict."""
        if self.strict:
            self.add(f"{message} (an error with --strict)")
        else:
            self._warnings.setdefault(message, None)

    @property
    def warnings(self) -> list[str]:
        return list(self._warnings)

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
