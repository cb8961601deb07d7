"""The counted progress bar of long CLI steps (a label, a bar, done / total, time left), transient on stderr."""

from __future__ import annotations

from typing import Any


def counted_progress(label: str, console: Any, quiet: bool) -> Any:
    """A rich Progress showing `label` (a format string over the task's fields), the bar, N/M and the ETA."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=True,
    )
