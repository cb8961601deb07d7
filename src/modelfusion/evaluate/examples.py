"""A labelled text example and the three fixed splits of a task."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    """One text with its class name."""

    text: str
    label: str


@dataclass(frozen=True)
class Splits:
    """Disjoint train / validation / test lists of examples."""

    train: list[Example]
    validation: list[Example]
    test: list[Example]

    def get(self, name: str) -> list[Example]:
        if name not in ("train", "validation", "test"):
            raise ValueError(f"unknown split '{name}' (train, validation or test)")
        return getattr(self, name)
