"""modelfusion: combine AI models, by their weights (merging) or by their outputs (ensembles)."""

from modelfusion.errors import ModelFusionError, UserError

__version__ = "0.1.0"

__all__ = ["ModelFusionError", "UserError", "__version__", "inspect", "merge", "merge_state_dicts"]


def __getattr__(name: str):
    # Lazy: importing modelfusion must not import torch (the CLI starts in well under a second).
    if name in ("merge", "merge_state_dicts", "inspect"):
        from modelfusion import api

        return getattr(api, name)
    raise AttributeError(f"module 'modelfusion' has no attribute {name!r}")
