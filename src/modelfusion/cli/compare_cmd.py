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
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no tables."),
) -> None:
    """Compare task vectors (model − base): norms, cosine similarity, sign conflicts, elected shares.

    Statistics per layer and per module type (embeddings, attention, MLP, norms, heads); one tensor at a time.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from modelfusion.analysis.compare import compare_checkpoints, short_labels
    from modelfusion.analysis.compare_report import comparison_tables, write_comparison
    from modelfusion.analysis.plots import plots_available
    from modelfusion.checkpoint import open_checkpoint
    from modelfusion.errors import UserError

    console = Console(stderr=True)
    with user_errors():
        if fmt not in ("md", "html"):
            raise UserError(f"unknown format '{fmt}' (use md or html)", where="--format")
        if plots and not plots_available():
            raise UserError("plots need matplotlib: pip install 'modelfusion[plots]', or pass --no-plots")
        if out.exists() and not out.is_dir():
            raise UserError("exists and is not a folder", where=str(out))
        refs = [str(base), *map(str, models)]
        labels = short_labels(refs)
        opened = []
        try:
            for ref, label in zip(refs, labels):
                opened.append(open_checkpoint(ref, label=label))
            progress = Progress(
                TextColumn("comparing"),
                BarColumn(),
                MofNCompleteColumn(),
                console=console,
                disable=quiet,
                transient=True,
            )
            with progress:
                task = progress.add_task("compare", total=len(opened[0].infos))
                result = compare_checkpoints(
                    opened[0],
                    dict(zip(labels[1:], opened[1:])),
                    density,
                    on_tensor=lambda _: progress.advance(task),
                    device=device,
                )
        finally:
            for c in opened:
                c.close()
        path = write_comparison(result, out, fmt, plots)
    if not quiet:
        out_console = Console()
        for table in comparison_tables(result):
            out_console.print(table.to_rich())
    console.print(f"[green]report[/]: {path}")
