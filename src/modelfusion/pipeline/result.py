"""What a merge returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelfusion.pipeline.calibration import CalibrationJob
from modelfusion.plan.summary import PlanSummary


@dataclass(frozen=True)
class MergeResult:
    out_dir: Path | None
    """The published folder (None for a dry run)."""
    summary: PlanSummary
    """The plan summary of the recipe's last stage."""
    resumed: int = 0
    """Tensors taken from an interrupted run's journal (resume=True) instead of being computed again, over all
    stages."""
    calibration: tuple[CalibrationJob, ...] = ()
    """The statistics files computed from the recipe's `calibration:` (a dry run: to be computed, or cached)."""
