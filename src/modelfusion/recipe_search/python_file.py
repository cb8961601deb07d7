"""A function named in a search config as `path/to/file.py:function`, run from the file's text.

The file runs as a module of its own, not registered in sys.modules. What pickles is the text (FunctionSource),
not the function: a Ray worker that unpickles it runs the file once there, so the function and whatever the file
loads at import travel once per worker.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelfusion.errors import RecipeError


@dataclass(frozen=True)
class FunctionSource:
    text: str
    path: str
    """The file, absolute (the module's __file__)."""
    name: str
    ref: str
    """As written in the config: `file.py:function`."""
    where: str
    """The config file, for errors."""


def read_function(ref: str, config_file: Path | None, key: str) -> FunctionSource:
    """Read `ref` (relative to the working directory, then to the config's folder); `key` names it in errors."""
    where = str(config_file) if config_file else "search config"
    file, sep, name = ref.rpartition(":")
    if not sep or not file or not name:
        raise RecipeError(f"{key} must be 'path/to/file.py:function', got {ref!r}", where)
    path = Path(file).expanduser()
    if not path.is_file() and config_file is not None and (config_file.parent / path).is_file():
        path = config_file.parent / path
    if not path.is_file():
        raise RecipeError(f"{key}: file '{file}' not found", where)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RecipeError(f"{key}: cannot read '{file}': {e}", where) from None
    return FunctionSource(text, str(path.resolve()), name, ref, where)


def load_function(src: FunctionSource) -> Callable[..., Any]:
    """Run the file's text in a fresh module and return its function `src.name`."""
    file = src.ref.rpartition(":")[0]
    module = types.ModuleType(Path(src.path).stem)
    module.__file__ = src.path
    try:
        exec(compile(src.text, src.path, "exec"), module.__dict__)
    except Exception as e:
        raise RecipeError(f"importing '{file}' failed: {type(e).__name__}: {e}", src.where) from None
    fn = getattr(module, src.name, None)
    if not callable(fn):
        raise RecipeError(f"'{file}' has no function '{src.name}'", src.where)
    return fn
