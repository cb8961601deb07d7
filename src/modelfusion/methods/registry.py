"""The registry of merge methods: name -> MergeMethod. Method modules register themselves on import.

Listing methods must not import torch (it takes seconds): the built-in method modules are imported under
`torch_deferred()` (deferred_torch.py), so torch loads only when a method first runs.
"""

from __future__ import annotations

import difflib
import sys

from modelfusion.errors import RecipeError
from modelfusion.methods.deferred_torch import torch_deferred
from modelfusion.methods.spec import MergeMethod

_METHODS: dict[str, MergeMethod] = {}
_ALIASES: dict[str, str] = {}


def register(method: MergeMethod) -> MergeMethod:
    """Add a method to the registry (once per name)."""
    if method.name in _METHODS:
        raise ValueError(f"merge method {method.name!r} registered twice")
    _METHODS[method.name] = method
    for alias in method.aliases:
        _ALIASES[alias] = method.name
    return method


def _load_builtin() -> None:
    if "modelfusion.methods.builtin" in sys.modules:
        return
    with torch_deferred():
        import modelfusion.methods.builtin  # noqa: F401  (registers on import)


def get_method(name: str) -> MergeMethod:
    """Look up a method by name or alias; unknown names raise a RecipeError with a did-you-mean."""
    _load_builtin()
    key = _ALIASES.get(name, name)
    if key in _METHODS:
        return _METHODS[key]
    close = difflib.get_close_matches(name, list(_METHODS) + list(_ALIASES), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise RecipeError(f"unknown merge method '{name}'{hint}; `modelfusion methods` lists them")


def all_methods() -> list[MergeMethod]:
    _load_builtin()
    return sorted(_METHODS.values(), key=lambda m: m.name)
