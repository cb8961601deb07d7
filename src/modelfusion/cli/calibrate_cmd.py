"""`modelfusion calibrate MODEL --data FILE --stats gram,fisher --out stats.safetensors`."""

from __future__ import annotations

from pathlib import Path

import typer

from modelfusion.cli.errors import user_errors


def calibrate_command(
    model: Path = typer.Argument(..., help="A Hugging Face model folder (loaded offline with transformers)."),
    data: Path = typer.Option(..., "--data", help="Text file, one calibration example a line."),
    stats: str = typer.Option("gram", "--stats", help="Comma-separated: gram (RegMean), fisher (Fisher merging)."),
    out: Path = typer.Option(None, "--out", help="Statistics file (default: MODEL.stats.safetensors beside MODEL)."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Examples per forward pass."),
    max_length: int = typer.Option(128, "--max-length", min=1, help="Tokens kept per example."),
    examples: int = typer.Option(None, "--examples", min=1, help="Use only the first N lines."),
    seed: int = typer.Option(0, "--seed", help="Seed of the labels sampled for the Fisher."),
    max_gram_memory: float = typer.Option(1.0, "--max-gram-memory", help="GiB of Gram matrices held per pass."),
    device: str = typer.Option("cpu", "--device", help="torch device to run the model on."),
    force: bool = typer.Option(False, "--force", help="Recompute even if OUT holds the same cache key."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Run calibration data through MODEL and write per-tensor statistics for `statistics:` in a recipe."""
    from rich.console import Console

    console = Console(stderr=True)
    with user_errors():
        from modelfusion.calibrate import calibrate

        progress, on_step = _progress(console, quiet)
        with progress:
            result = calibrate(
                model,
                data,
                out,
                stats=[s.strip() for s in stats.split(",") if s.strip()],
                batch_size=batch_size,
                max_length=max_length,
                examples=examples,
                seed=seed,
                max_gram_bytes=int(max_gram_memory * (1 << 30)),
                device=device,
                force=force,
                progress=on_step,
            )
    how = "cached (same model, data and options)" if result.cached else f"{result.batches} batches"
    typer.echo(f"{result.path}: {result.entries} statistics, {how}")


def _progress(console, quiet: bool):
    from modelfusion.cli.progress_bar import counted_progress

    progress = counted_progress("calibrating", console, quiet)
    task = progress.add_task("calibrate", total=None)

    def on_step(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return progress, on_step
