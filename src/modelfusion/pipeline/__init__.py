"""One orchestration path below api.py: options in, every stage planned, then run, journaled and published."""

from modelfusion.pipeline.in_memory import merge_in_memory
from modelfusion.pipeline.model_refs import ModelTarget, open_model, resolve_model
from modelfusion.pipeline.options import Callbacks, MergeOptions, default_cache_dir
from modelfusion.pipeline.result import MergeResult
from modelfusion.pipeline.run import run_merge
from modelfusion.pipeline.sources import load_stages, resolve_model_path
from modelfusion.pipeline.stages import plan_stage, plan_stages, resolve_stages

__all__ = [
    "Callbacks",
    "MergeOptions",
    "MergeResult",
    "ModelTarget",
    "default_cache_dir",
    "load_stages",
    "merge_in_memory",
    "open_model",
    "plan_stage",
    "plan_stages",
    "resolve_model",
    "resolve_model_path",
    "resolve_stages",
    "run_merge",
]
