"""Running a MergePlan: scheduling, worker threads, memory bound, progress. Knows no merge math."""

from modelfusion.engine.runner import run_plan

__all__ = ["run_plan"]
