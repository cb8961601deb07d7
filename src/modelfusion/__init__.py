"""modelfusion: combine AI models, by their weights (merging) or by their outputs (ensembles)."""

from modelfusion.errors import ModelFusionError, UserError
from modelfusion.version import __version__

__all__ = [
    "ModelFusionError",
    "UserError",
    "__version__",
    "inspect",
    "merge",
    "merge_modules",
    "merge_state_dicts",
    "search",
]


def __getattr__(name: str):
    # Lazy: importing modelfusion must not import torch (the CLI starts in well under a second).
    if name in ("merge", "merge_modules", "merge_state_dicts", "inspect"):
        from modelfusion import api

        return getattr(api, name)
    if name == "search":  # the function; its package is modelfusion.recipe_search (needs optuna)
        from modelfusion.recipe_search import search

        return search
    raise AttributeError(f"module 'modelfusion' has no attribute {name!r}")
