"""Planning: recipe x checkpoints -> one job per output tensor, with every checkable error found first."""

from modelfusion.plan.build import build_plan
from modelfusion.plan.job import COPY, InputRef, Job, MergePlan

__all__ = ["COPY", "InputRef", "Job", "MergePlan", "build_plan"]
