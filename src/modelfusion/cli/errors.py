"""Map errors to exit codes: user errors are one red line (exit 2), internal errors a traceback (exit 1)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import typer

USER_ERROR_EXIT = 2


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    from rich.console import Console
    from rich.markup import escape

    from modelfusion.errors import UserError

    try:
        yield
    except UserError as e:
        console = Console(stderr=True, highlight=False, soft_wrap=True)
        console.print(f"[bold red]error:[/] {escape(str(e))}", markup=True)  # messages hold [shapes], paths
        raise typer.Exit(USER_ERROR_EXIT) from None
    except KeyboardInterrupt:
        print("interrupted; nothing was written at the output path (rerun with --resume to continue)", file=sys.stderr)
        raise typer.Exit(130) from None
