"""What `modelfusion.recipe_search` returns: the study summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class SearchSummary:
    out: Path
    storage: str
    direction: str
    sampler: str
    states: dict[str, int]
    """Trials by state: COMPLETE, FAIL (the trial's own error), INTERRUPTED (run again on resume)."""
    best_number: int | None = None
    best_value: float | None = None
    """The best trial's validation value (the one the search optimised)."""
    best_params: dict[str, Any] = field(default_factory=dict)
    test_value: float | None = None
    """The best recipe scored once on the test split."""
    test_scores: dict[str, float] = field(default_factory=dict)
    best_recipe: Path | None = None
    model: Path | None = None
    """OUT/model with merge_best."""
    report: Path | None = None
    input_in_memory: bool = False
    """Whether the inputs were held in memory across trials (they fit the memory budget)."""

    @property
    def gap(self) -> float | None:
        """Validation minus test value of the best trial (positive: the search overfitted validation)."""
        if self.best_value is None or self.test_value is None:
            return None
        return self.best_value - self.test_value

    @property
    def trials(self) -> int:
        return sum(n for s, n in self.states.items() if s != "INTERRUPTED")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(gap=self.gap, trials=self.trials)
        return {k: str(v) if isinstance(v, Path) else v for k, v in d.items()}
