"""`modelfusion adamerge BASE MODEL... --data FILE (one per model) --out recipe.yaml`: learn AdaMerging
coefficients on unlabeled text and write them as a plain task_arithmetic recipe (merged later with no data)."""

from __future__ import annotations

from pathlib import Path

import typer

from modelfusion.cli.errors import user_errors


def adamerge_command(
    base: Path = typer.Argument(..., help="The base model folder the fine-tunes share."),
    models: list[Path] = typer.Argument(..., help="Fine-tuned model folders (Hugging Face, loaded offline)."),
    data: list[Path] = typer.Option(..., "--data", help="Unlabeled text file of each model's task, in order."),
    out: Path = typer.Option(..., "--out", help="Recipe to write (YAML)."),
    mode: str = typer.Option("layer", "--mode", help="layer: a coefficient per tensor; task: one per model."),
    steps: int = typer.Option(500, "--steps", min=0, help="Adam steps (each takes one batch of every task)."),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate."),
    init: float = typer.Option(0.3, "--init", help="Initial coefficient."),
    no_clamp: bool = typer.Option(False, "--no-clamp", help="Do not clamp the coefficients to [0, 1]."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Examples per batch."),
    max_length: int = typer.Option(128, "--max-length", min=1, help="Tokens kept per example."),
    examples: int = typer.Option(None, "--examples", min=1, help="Use only the first N lines of each file."),
    device: str = typer.Option("cpu", "--device", help="torch device to run the models on."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Learn AdaMerging coefficients (Yang et al. 2024) and write the recipe: `modelfusion merge OUT DIR`."""
    from rich.console import Console

    from modelfusion.cli.progress_bar import counted_progress

    console = Console(stderr=True)
    with user_errors():
        from modelfusion.calibrate.adamerging import adamerge
        from modelfusion.errors import UserError

        if len(data) != len(models):
            raise UserError(f"{len(data)} --data files for {len(models)} models (give one per model, in order)")
        progress = counted_progress("adamerging {task.fields[loss]}", console, quiet)
        task = progress.add_task("adamerge", total=steps, loss="")
        with progress:
            result = adamerge(
                base,
                models,
                data,
                mode=mode,  # type: ignore[arg-type]
                init=init,
                steps=steps,
                lr=lr,
                clamp=not no_clamp,
                batch_size=batch_size,
                max_length=max_length,
                examples=examples,
                device=device,
                progress=lambda done, _, loss: progress.update(task, completed=done, loss=f"loss {loss:.4f}"),
            )
        path = result.write(out)
    before = ", ".join(f"{e:.4f}" for e in result.entropy_before)
    after = ", ".join(f"{e:.4f}" for e in result.entropy_after)
    typer.echo(f"{path}: mean entropy per task {before} -> {after}; merge with `modelfusion merge {path} OUT`")
