"""`modelfusion search CONFIG OUT`: find the recipe (Optuna trials merged in memory); rerun to continue."""

from __future__ import annotations

from pathlib import Path

import typer

from modelfusion.cli.errors import user_errors


def search_command(
    config: Path = typer.Argument(..., help="Search config: a recipe with ranges plus a `search:` section."),
    out: Path = typer.Argument(..., help="Folder for study.db, best.yaml, trials.csv, search_report.md."),
    trials: int = typer.Option(None, "--trials", help="Total trials (overrides search.trials; counts resumed ones)."),
    workers: int = typer.Option(
        None, "--workers", help="Trials at a time: threads, or Ray actors (overrides search.workers)."
    ),
    ray: str = typer.Option(
        None, "--ray", help="Run trials on Ray: local (start one here), auto (the running cluster) or ADDRESS."
    ),
    merge_best: bool = typer.Option(False, "--merge-best", help="Also merge best.yaml into OUT/model."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Search the ranges of CONFIG; the same command continues an interrupted search."""
    from rich.console import Console

    console = Console(stderr=True)
    with user_errors():  # its own Ctrl-C message is about merges: ours comes first
        from modelfusion.recipe_search import search

        progress, on_trial = _progress(console, quiet)
        try:
            with progress:
                summary = search(
                    config, out, trials=trials, workers=workers, merge_best=merge_best, on_trial=on_trial, ray=ray
                )
        except KeyboardInterrupt:
            console.print(f"interrupted: {out} keeps the finished trials; run the same command to continue")
            raise typer.Exit(130) from None
    _print_summary(console, summary)


def _progress(console, quiet: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("trials"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("best {task.fields[best]}"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=True,
    )
    task = progress.add_task("search", total=None, best="-")

    def on_trial(study, trial, done: int, total: int) -> None:
        try:
            best = f"{study.best_value:.6g}"
        except ValueError:  # no complete trial yet
            best = "-"
        progress.update(task, completed=done, total=total, best=best)

    return progress, on_trial


def _print_summary(console, s) -> None:
    from rich.table import Table

    states = ", ".join(f"{n} {k.lower()}" for k, n in s.states.items())
    table = Table(title=f"search: {states}", show_header=False)
    if s.best_number is None:
        table.add_row("best", "no trial completed (see trials.csv for the errors)")
    else:
        table.add_row("best trial", str(s.best_number))
        table.add_row("validation", f"{s.best_value:.6g}")
        table.add_row("test", f"{s.test_value:.6g}")
        table.add_row("gap (validation - test)", f"{s.gap:.6g}")
        for k, v in s.best_params.items():
            table.add_row(k, f"{v:.6g}" if isinstance(v, float) else str(v))
        table.add_row("recipe", str(s.best_recipe))
    if s.model is not None:
        table.add_row("merged model", str(s.model))
    table.add_row("report", str(s.report))
    console.print(table)
