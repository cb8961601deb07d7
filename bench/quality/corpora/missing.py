"""The one error every source raises when its data is not installed."""

from __future__ import annotations

from pathlib import Path

from modelfusion.errors import UserError


def require(path: Path, install: str) -> Path:
    """Return `path` if it exists, else raise a UserError naming it and how to install it."""
    if not path.exists():
        raise UserError(f"not found; install it with `{install}` (or run `make data`)", where=str(path))
    return path


def clean(text: str) -> str:
    """Collapse every run of whitespace to one space."""
    return " ".join(text.split())
