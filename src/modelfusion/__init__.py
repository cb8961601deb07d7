"""modelfusion: combine AI models, by their weights (merging) or by their outputs (ensembles)."""

from modelfusion.errors import ModelFusionError, UserError
from modelfusion.version import __version__

__all__ = ["ModelFusionError", "UserError", "__version__", "inspect", "merge", "merge_state_dicts", "search"]


def __getattr__(name: str):
    # Lazy: importing modelfusion must not import torch (the CLI starts in well under a second).
    if name in ("merge", "merge_state_dicts", "inspect"):
        from modelfusion import api

        return getattr(api, name)
    if name == "search":  # the package modelfusion.search, callable as its function search() (needs optuna)
        import importlib

        return importlib.import_module("modelfusion.search")
    raise AttributeError(f"module 'modelfusion' has no attribute {name!r}")
