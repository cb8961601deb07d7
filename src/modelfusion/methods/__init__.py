"""Merge math: pure functions on tensors, one family per file, registered with their parameter specs."""

from modelfusion.methods.registry import all_methods, get_method, register
from modelfusion.methods.spec import MergeMethod, ParamSpec

__all__ = ["MergeMethod", "ParamSpec", "all_methods", "get_method", "register"]
