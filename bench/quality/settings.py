"""What a benchmark run does: tasks, split sizes, fine-tuning, and each method's hyper-parameter grid."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.quality.finetune import FinetuneConfig
from modelfusion.evaluate import SplitSizes

TASKS = ("wordnet", "fortunes", "chatterbot", "foldoc")


@dataclass(frozen=True)
class Candidate:
    """One merge to try: a row name, the method, and the value of its tuned hyper-parameter (None: untuned)."""

    row: str
    method: str
    param: str | None
    value: float | None


@dataclass(frozen=True)
class RunSettings:
    mode: str
    tasks: tuple[str, ...]
    sizes: SplitSizes
    finetune: FinetuneConfig
    max_length: int
    grids: dict[str, tuple[str | None, tuple[float | None, ...]]] = field(default_factory=dict)
    slerp_pairs: int | None = None
    """How many task pairs get SLERP (None: all pairs)."""
    seed: int = 0

    def candidates(self) -> list[Candidate]:
        return [Candidate(row, row, param, v) for row, (param, values) in self.grids.items() for v in values]


# Hyper-parameters that are fixed (not tuned), from each method's paper / mergekit's examples.
FIXED = {
    "ties": {"density": 0.2},  # TIES keeps the top 20% magnitudes (k = 20)
    "dare_ties": {"density": 0.5},  # DARE drops half the entries, rescales the rest by 1/0.5
    "dare_linear": {"density": 0.5},
    "breadcrumbs": {"density": 0.9, "gamma": 0.01},  # drop the 1% largest and the 9% smallest
    "della": {"density": 0.5, "epsilon": 0.15},
}

FULL_GRIDS = {
    "simple_average": (None, (None,)),
    "weighted_average": ("p", (1.0, 2.0)),
    "task_arithmetic": ("lambda", (0.5, 1.0)),
    "ties": ("lambda", (0.5, 1.0)),
    "dare_ties": ("lambda", (0.5, 1.0)),
    "dare_linear": ("lambda", (0.5, 1.0)),
    "breadcrumbs": ("lambda", (0.5, 1.0)),
    "della": ("lambda", (0.5, 1.0)),
    "model_stock": (None, (None,)),
}
QUICK_VALUES = {"weighted_average": 1.0, "task_arithmetic": 0.5, "dare_linear": 0.5, "breadcrumbs": 0.5}
QUICK_GRIDS = {name: (param, (QUICK_VALUES.get(name, values[-1]),)) for name, (param, values) in FULL_GRIDS.items()}
"""--quick merges once per method, untuned: lambda 0.5 for the summing methods, 1.0 for the sign-consensus ones."""

FULL = RunSettings(
    mode="full",
    tasks=TASKS,
    sizes=SplitSizes(max_train_per_class=150, max_validation_per_class=20, max_test_per_class=50),
    finetune=FinetuneConfig(epochs=3, batch_size=16, learning_rate=1e-4),
    max_length=32,
    grids=FULL_GRIDS,
    slerp_pairs=2,
)
QUICK = RunSettings(
    mode="quick",
    tasks=TASKS,
    sizes=SplitSizes(max_train_per_class=12, max_validation_per_class=5, max_test_per_class=10),
    finetune=FinetuneConfig(epochs=1, batch_size=16, learning_rate=5e-5),
    max_length=24,
    grids=QUICK_GRIDS,
    slerp_pairs=1,
)
