"""Text-classification tasks: a named source of labelled examples, its fixed seeded splits and its metric.

A task is data + metric; how a model is run on it lives in `run_model.py` (mean-pooled encoder + linear head).
Bring your own examples and call `make_task`; the benchmark's corpora (bench/quality/corpora) are built the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from modelfusion.errors import UserError
from modelfusion.evaluate.examples import Example, Splits
from modelfusion.evaluate.metrics import accuracy
from modelfusion.evaluate.splits import SplitSizes, stratified_split


@dataclass(frozen=True)
class TextTask:
    """A classification task. `labels[i]` is the class name of class index i (sorted names)."""

    name: str
    description: str
    labels: tuple[str, ...]
    splits: Splits
    metric: Callable[[Sequence[int], Sequence[int]], float] = accuracy

    def texts(self, split: str) -> list[str]:
        return [e.text for e in self.splits.get(split)]

    def targets(self, split: str) -> list[int]:
        index = {name: i for i, name in enumerate(self.labels)}
        return [index[e.label] for e in self.splits.get(split)]


def make_task(name: str, description: str, examples: Sequence[Example], sizes: SplitSizes, seed: int) -> TextTask:
    """A task from raw examples: seeded stratified splits; every class must reach all three splits."""
    splits = stratified_split(examples, sizes, seed)
    labels = tuple(sorted({e.label for e in examples}))
    for part in ("train", "validation", "test"):
        missing = set(labels) - {e.label for e in splits.get(part)}
        if missing:
            raise UserError(f"classes {sorted(missing)} have no {part} example (too few examples)", where=name)
    return TextTask(name=name, description=description, labels=labels, splits=splits)
