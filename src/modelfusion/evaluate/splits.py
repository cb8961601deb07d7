"""Seeded, stratified train / validation / test splits with per-class caps (balanced where the data allows).

Each class is shuffled with its own generator seeded from (seed, class name), then cut into fractions
test | validation | train. Caps are applied after the cut, so a smaller run's test set is a subset of a larger
run's test set with the same seed and fractions, and no example ever moves between splits.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from modelfusion.evaluate.examples import Example, Splits


@dataclass(frozen=True)
class SplitSizes:
    """Fractions of each class for test and validation (the rest is train) and the largest count per class."""

    test_fraction: float = 0.2
    validation_fraction: float = 0.2
    max_train_per_class: int | None = None
    max_validation_per_class: int | None = None
    max_test_per_class: int | None = None

    def __post_init__(self) -> None:
        total = self.test_fraction + self.validation_fraction
        if min(self.test_fraction, self.validation_fraction) <= 0 or total >= 1:
            raise ValueError("test and validation fractions must be positive and sum to less than 1")


def _class_rng(seed: int, label: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


def _cap(items: list[Example], cap: int | None) -> list[Example]:
    return items if cap is None else items[:cap]


def stratified_split(examples: Sequence[Example], sizes: SplitSizes, seed: int) -> Splits:
    """Split `examples` per class (see module doc). Duplicated texts are kept once (first occurrence).

    Within a split, examples are ordered by class then by shuffled position, then shuffled once more (seeded).
    """
    by_class: dict[str, list[Example]] = defaultdict(list)
    seen: set[str] = set()
    for ex in examples:
        if ex.text not in seen:
            seen.add(ex.text)
            by_class[ex.label].append(ex)
    train, val, test = [], [], []
    for label in sorted(by_class):
        items = sorted(by_class[label], key=lambda e: e.text)
        _class_rng(seed, label).shuffle(items)
        n_test = max(1, round(len(items) * sizes.test_fraction))
        n_val = max(1, round(len(items) * sizes.validation_fraction))
        test += _cap(items[:n_test], sizes.max_test_per_class)
        val += _cap(items[n_test : n_test + n_val], sizes.max_validation_per_class)
        train += _cap(items[n_test + n_val :], sizes.max_train_per_class)
    for i, part in enumerate((train, val, test)):
        random.Random(seed * 3 + i).shuffle(part)
    return Splits(train=train, validation=val, test=test)
