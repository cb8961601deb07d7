"""Text-classification tasks: a named source of labelled examples, its fixed seeded splits and its metric.

A task is data + metric; how a model is run on it lives in `run_model.py` (mean-pooled encoder + linear head).
The built-in tasks read real corpora that install offline; see docs/quality.md for their sources and labels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from modelfusion.errors import UserError
from modelfusion.evaluate.examples import Example, Splits
from modelfusion.evaluate.metrics import accuracy
from modelfusion.evaluate.sources import load_chatterbot, load_foldoc, load_fortunes, load_wordnet
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


BUILTIN_SOURCES: dict[str, tuple[str, Callable[[], list[Example]]]] = {
    "wordnet": ("WordNet noun gloss -> lexicographer file (Debian wordnet-base)", load_wordnet),
    "fortunes": ("fortune cookie -> category file (Debian fortunes)", load_fortunes),
    "chatterbot": ("chat conversation -> topic (PyPI chatterbot-corpus)", load_chatterbot),
    "foldoc": ("computing dictionary entry -> subject (Debian dict-foldoc)", load_foldoc),
}


def load_task(name: str, sizes: SplitSizes, seed: int = 0) -> TextTask:
    """One built-in task by name (see BUILTIN_SOURCES) with fixed seeded splits."""
    if name not in BUILTIN_SOURCES:
        raise UserError(f"unknown task '{name}' (known: {', '.join(BUILTIN_SOURCES)})")
    description, load = BUILTIN_SOURCES[name]
    return make_task(name, description, load(), sizes, seed)
