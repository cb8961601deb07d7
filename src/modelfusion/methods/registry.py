"""The registry of merge methods: name -> MergeMethod.

The built-in methods are torch-free specs (catalog/), registered the first time the registry is asked, so
listing methods and validating recipes never import torch; each method's math module is imported when it
first runs. Other code adds methods with `register`.
"""

from __future__ import annotations

import difflib
import threading

from modelfusion.errors import RecipeError
from modelfusion.methods.spec import MergeMethod

_METHODS: dict[str, MergeMethod] = {}
_ALIASES: dict[str, str] = {}
_lock = threading.Lock()
_builtin_loaded = False


def register(method: MergeMethod) -> MergeMethod:
    """Add a method to the registry (once per name)."""
    with _lock:
        _add(method)
    return method


def _add(method: MergeMethod) -> None:
    if method.name in _METHODS:
        raise ValueError(f"merge method {method.name!r} registered twice")
    _METHODS[method.name] = method
    for alias in method.aliases:
        _ALIASES[alias] = method.name


def _load_builtin() -> None:
    global _builtin_loaded
    if _builtin_loaded:
        return
    from modelfusion.methods.catalog import BUILTIN

    with _lock:
        if not _builtin_loaded:
            for method in BUILTIN:
                _add(method)
            _builtin_loaded = True


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
