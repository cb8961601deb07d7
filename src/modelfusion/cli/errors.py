"""Map errors to exit codes: user errors are one red line (exit 2), internal errors a traceback (exit 1); recipe
warnings (modelfusion.errors.RecipeWarning) are one yellow line each."""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator

import typer

USER_ERROR_EXIT = 2


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    from rich.console import Console
    from rich.markup import escape

    from modelfusion.errors import RecipeWarning, UserError

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # the warnings.showwarning hook
        if not issubclass(category, RecipeWarning):
            shown(message, category, filename, lineno, file, line)
            return
        console = Console(stderr=True, highlight=False, soft_wrap=True)
        console.print(f"[bold yellow]warning:[/] {escape(str(message))}", markup=True)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", RecipeWarning)
            warnings.showwarning = show
            yield
    except UserError as e:
        console = Console(stderr=True, highlight=False, soft_wrap=True)
        console.print(f"[bold red]error:[/] {escape(str(e))}", markup=True)  # messages hold [shapes], paths
        raise typer.Exit(USER_ERROR_EXIT) from None
    except KeyboardInterrupt:
        print("interrupted; nothing was written at the output path (rerun with --resume to continue)", file=sys.stderr)
        raise typer.Exit(130) from None
