"""Merge math: pure functions on tensors, one family per file; their specs (torch-free) in catalog/."""

from modelfusion.methods.memory import JobSize
from modelfusion.methods.registry import all_methods, get_method, register
from modelfusion.methods.spec import MergeMethod, ParamSpec
from modelfusion.methods.statistics import StatisticSpec

__all__ = ["JobSize", "MergeMethod", "ParamSpec", "StatisticSpec", "all_methods", "get_method", "register"]
