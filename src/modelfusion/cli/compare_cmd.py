"""`modelfusion compare --base BASE MODEL...`: task-vector diagnostics, streamed, with a report and plots."""

from __future__ import annotations

from pathlib import Path

import typer

from modelfusion.cli.errors import user_errors


def compare_command(
    models: list[Path] = typer.Argument(..., help="Fine-tuned model folders or weight files."),
    base: Path = typer.Option(..., "--base", help="The model they were fine-tuned from."),
    density: float = typer.Option(0.2, "--density", help="Density of the TIES view (sign conflicts, shares)."),
    out: Path = typer.Option(Path("compare_report"), "--out", "-o", help="Folder for the report and its PNGs."),
    fmt: str = typer.Option("md", "--format", help="Report format: md or html."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Render PNG plots (needs matplotlib)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no tables."),
) -> None:
    """Compare task vectors (model − base): norms, cosine similarity, sign conflicts, elected shares.

    Statistics per layer and per module type (embeddings, attention, MLP, norms, heads); one tensor at a time.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from modelfusion.analysis.compare import compare_models
    from modelfusion.analysis.compare_report import check_report_options, comparison_tables, write_comparison

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("comparing"), BarColumn(), MofNCompleteColumn(), console=console, disable=quiet, transient=True
    )
    with user_errors():
        check_report_options(out, fmt, plots)
        with progress:
            task = progress.add_task("compare", total=None)
            result = compare_models(
                base,
                models,
                density,
                device,
                on_start=lambda total: progress.update(task, total=total),
                on_tensor=lambda _: progress.advance(task),
            )
        path = write_comparison(result, out, fmt, plots)
    if not quiet:
        out_console = Console()
        for table in comparison_tables(result):
            out_console.print(table.to_rich())
    console.print(f"[green]report[/]: {path}")
