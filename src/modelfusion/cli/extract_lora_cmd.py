"""`modelfusion extract-lora FINETUNE --base BASE OUT --rank R [--energy E]`: a PEFT LoRA adapter from a fine-tune's
task vector by truncated SVD, with a per-module error table."""

from __future__ import annotations

from pathlib import Path

import typer

from modelfusion.cli.errors import user_errors


def extract_lora_command(
    finetune: Path = typer.Argument(..., help="The fine-tuned model folder."),
    out: Path = typer.Argument(..., help="Output adapter folder (written atomically)."),
    base: Path = typer.Option(..., "--base", help="The base model folder the fine-tune started from."),
    rank: int = typer.Option(None, "--rank", "-r", help="LoRA rank per module (the cap, with --energy)."),
    energy: float = typer.Option(None, "--energy", help="Per module, the smallest rank keeping this energy."),
    full_modules: bool = typer.Option(
        False, "--full-modules/--skip-other", help="Save changed embeddings / norms whole (modules_to_save)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT once the new adapter is complete."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no table."),
) -> None:
    """Extract a LoRA adapter (PEFT format) from FINETUNE - BASE; report each module's relative error."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(stderr=True)
    with user_errors():
        from modelfusion.lora.extract import REPORT_FILE, ExtractOptions, extract_lora

        progress = Progress(
            TextColumn("extracting"), BarColumn(), MofNCompleteColumn(), console=console, disable=quiet, transient=True
        )
        task = progress.add_task("extract", total=None)
        with progress:
            result = extract_lora(
                finetune,
                base,
                out,
                ExtractOptions(rank, energy, full_modules),
                overwrite=overwrite,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    if not quiet:
        _table(result.modules)
    lora = [m for m in result.modules if m.kind == "lora"]
    worst = max((m.relative_error for m in lora), default=0.0)
    typer.echo(f"{result.out}: {len(lora)} LoRA modules (worst relative error {worst:.3g}); report in {REPORT_FILE}")


def _table(modules) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("tensor", "kind", "shape", "rank", "relative error")
    for m in modules:
        table.add_row(m.tensor, m.kind, "x".join(map(str, m.shape)), str(m.rank or ""), f"{m.relative_error:.3g}")
    Console().print(table)
