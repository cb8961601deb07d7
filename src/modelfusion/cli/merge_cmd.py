"""`modelfusion merge RECIPE OUT`."""

from __future__ import annotations

from pathlib import Path

import typer

from modelfusion.cli.errors import user_errors
from modelfusion.cli.format import human_bytes


def merge_command(
    recipe: Path = typer.Argument(..., help="Recipe YAML (mergekit-compatible)."),
    out: Path = typer.Argument(..., help="Output model folder (created; appears only when complete)."),
    threads: int = typer.Option(0, "--threads", "-j", help="Worker threads (0 = number of cores)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N."),
    out_shard_size: str = typer.Option("5GB", "--out-shard-size", help="Largest output shard, e.g. 5GB."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and print the plan; write nothing."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT once the new merge is complete."),
    random_seed: int = typer.Option(0, "--random-seed", help="Seed for random methods (DARE, DELLA)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue an interrupted merge into OUT (same recipe and inputs) from its journal."
    ),
    allow_nonfinite: bool = typer.Option(
        False, "--allow-nonfinite", help="Merge inputs that hold NaN or Inf instead of stopping with an error."
    ),
    report: bool = typer.Option(
        False, "--report", help="Also write merge_report.md (+ PNGs) into OUT: what the merge did, per layer."
    ),
) -> None:
    """Merge the models of RECIPE into the folder OUT."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from modelfusion.api import merge

    console = Console(stderr=True)
    with user_errors():
        if dry_run:
            result = merge(
                recipe,
                out,
                threads=threads or None,
                device=device,
                out_shard_size=out_shard_size,
                dry_run=True,
                overwrite=overwrite,
                random_seed=random_seed,
            )
            _print_summary(result.summary)
            return
        from modelfusion.engine.allocator import reuse_freed_memory

        reuse_freed_memory()  # this process exists to merge: tune its allocator (library callers keep theirs)
        progress = Progress(
            TextColumn("merging"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=quiet,
            transient=True,
        )
        task = progress.add_task("merge", total=None)
        with progress:
            result = merge(
                recipe,
                out,
                threads=threads or None,
                device=device,
                out_shard_size=out_shard_size,
                overwrite=overwrite,
                random_seed=random_seed,
                resume=resume,
                allow_nonfinite=allow_nonfinite,
                report=report,
                on_start=lambda s: progress.update(task, total=s.bytes_to_write, completed=0),  # once per stage
                on_progress=lambda job: progress.advance(task, job.out.nbytes),
            )
        s = result.summary
        resumed = f" ({result.resumed} resumed from the interrupted run)" if resume else ""
        console.print(f"[green]merged[/] {s.tensors} tensors ({human_bytes(s.bytes_to_write)}) into {out}{resumed}")
        if report:
            console.print(f"report: {out / 'merge_report.md'}")


def _print_summary(s) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="merge plan (dry run: nothing written)", show_header=False)
    table.add_row("method", escape(s.method))
    table.add_row("models", escape("\n".join(s.models)))
    table.add_row("output tensors", f"{s.tensors} ({', '.join(f'{k}: {v}' for k, v in s.by_method.items())})")
    table.add_row("bytes to read", human_bytes(s.bytes_to_read))
    table.add_row("bytes to write", f"{human_bytes(s.bytes_to_write)} in {s.shards} shard(s)")
    table.add_row("estimated peak memory", f"{human_bytes(s.peak_memory)} (tensor data, {s.threads} threads)")
    table.add_row("time", "not estimated: it depends on the method, the page cache and --threads (docs/performance.md)")
    Console().print(table)
