"""`modelfusion merge RECIPE OUT`."""

from __future__ import annotations

from pathlib import Path

import typer

from modelfusion.cli.errors import user_errors
from modelfusion.cli.format import human_bytes

_MK = "mergekit-yaml flags"
NO_PICKLES = (
    "modelfusion writes safetensors only: a PyTorch .bin pickle can run code when loaded, and would be built "
    "whole in memory instead of streamed; transformers, vLLM and llama.cpp read safetensors; drop the flag"
)


def merge_command(
    recipe: Path = typer.Argument(..., help="Recipe YAML (mergekit-compatible)."),
    out: Path = typer.Argument(..., help="Output model folder (created; appears only when complete)."),
    threads: int = typer.Option(0, "--threads", "--num-threads", "-j", help="Worker threads (0 = number of cores)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N."),
    cuda: bool = typer.Option(False, "--cuda/--no-cuda", help="Same as --device cuda.", rich_help_panel=_MK),
    out_shard_size: str = typer.Option(
        "5GB",
        "--out-shard-size",
        help="Largest output shard in bytes: 5GB, 500MiB, 1000000, or mergekit's 5B / 500M / 2K (billion, million, "
        "thousand bytes).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and print the plan; write nothing."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT once the new merge is complete."),
    random_seed: int = typer.Option(0, "--random-seed", help="Seed for random methods (DARE, DELLA)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="-v: log what happens (downloads, files written); -vv: debug logs."
    ),
    copy_tokenizer: bool = typer.Option(
        True, "--copy-tokenizer/--no-copy-tokenizer", help="Copy the base model's tokenizer files.", rich_help_panel=_MK
    ),
    write_model_card: bool = typer.Option(
        True,
        "--write-model-card/--no-write-model-card",
        help="Write README.md, modelfusion_recipe.yaml and modelfusion_provenance.json.",
        rich_help_panel=_MK,
    ),
    hash_inputs: bool = typer.Option(
        False,
        "--hash-inputs",
        help="Record the sha256 of every local input file in modelfusion_provenance.json (reads the inputs again).",
    ),
    safe_serialization: bool = typer.Option(
        True,
        "--safe-serialization/--no-safe-serialization",
        help="Output is always safetensors: --no-safe-serialization (PyTorch .bin pickles) is refused.",
        rich_help_panel=_MK,
    ),
    lazy_unpickle: bool = typer.Option(
        False,
        "--lazy-unpickle/--no-lazy-unpickle",
        help="Accepted, no effect: inputs are always read lazily (one tensor, or one block of rows, at a time).",
        rich_help_panel=_MK,
    ),
    low_cpu_memory: bool = typer.Option(
        False,
        "--low-cpu-memory/--no-low-cpu-memory",
        help="Accepted, no effect: memory is always bounded (only tensors in flight, never a whole model).",
        rich_help_panel=_MK,
    ),
    clone_tensors: bool = typer.Option(
        False,
        "--clone-tensors/--no-clone-tensors",
        help="Accepted, no effect: every output tensor is written from its own data (a layer used twice too).",
        rich_help_panel=_MK,
    ),
    trust_remote_code: bool = typer.Option(
        False,
        "--trust-remote-code/--no-trust-remote-code",
        help="Accepted, no effect: modelfusion never runs a model's code (it reads config.json and the weights).",
        rich_help_panel=_MK,
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue an interrupted merge into OUT (same recipe and inputs) from its journal."
    ),
    allow_nonfinite: bool = typer.Option(
        False, "--allow-nonfinite", help="Merge inputs that hold NaN or Inf instead of stopping with an error."
    ),
    report: bool = typer.Option(
        False, "--report", help="Also write merge_report.md (+ PNGs) into OUT: what the merge did, per layer."
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Warnings (e.g. a parameter the method does not use) are errors."
    ),
    allow_crimes: bool = typer.Option(
        False, "--allow-crimes", help="Merge models of different architectures (as mergekit's --allow-crimes)."
    ),
    out_format: str = typer.Option(
        "same",
        "--out-format",
        help="same: a base model that is one .pth/.weights.h5/.keras/.onnx/.gguf file gives OUT/model.<ext> in its "
        "format and layout; safetensors: always a safetensors folder.",
    ),
) -> None:
    """Merge the models of RECIPE into the folder OUT."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from modelfusion.api import merge

    console = Console(stderr=True)
    with user_errors():
        if not safe_serialization:
            from modelfusion.errors import UserError

            raise UserError(NO_PICKLES, where="--no-safe-serialization")
        if cuda and device == "cpu":
            device = "cuda"
        if verbose:
            import logging

            logging.basicConfig(level=logging.INFO if verbose == 1 else logging.DEBUG, format="%(name)s: %(message)s")
        files = {
            "copy_tokenizer": copy_tokenizer,
            "write_model_card": write_model_card,
            "hash_inputs": hash_inputs,
            "out_format": out_format,
        }
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
                strict=strict,
                allow_crimes=allow_crimes,
            )
            _print_summary(result.summary)
            for job in result.calibration:
                typer.echo(f"statistics: {job.describe()}")
            return
        from modelfusion.engine.allocator import reuse_freed_memory

        reuse_freed_memory()  # this process exists to merge: tune its allocator (library callers keep theirs)
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=quiet,
            transient=True,
        )
        task = progress.add_task("merging", total=None)
        with progress:
            result = merge(
                recipe,
                out,
                threads=threads or None,
                device=device,
                out_shard_size=out_shard_size,
                overwrite=overwrite,
                random_seed=random_seed,
                strict=strict,
                allow_crimes=allow_crimes,
                resume=resume,
                allow_nonfinite=allow_nonfinite,
                report=report,
                **files,
                on_start=lambda s: progress.update(
                    task, description="merging", total=s.bytes_to_write, completed=0
                ),  # once per stage
                on_progress=lambda job: progress.advance(task, job.out.nbytes),
                on_calibrate=lambda model, done, total: progress.update(
                    task, description=f"calibrating {model}", completed=done, total=total
                ),
            )
        s = result.summary
        resumed = f" ({result.resumed} resumed from the interrupted run)" if resume else ""
        console.print(f"[green]merged[/] {s.tensors} tensors ({human_bytes(s.bytes_to_write)}) into {out}{resumed}")
        if report:
            console.print(f"report: {out / 'merge_report.md'}")
        if verbose:
            console.print("files: " + ", ".join(sorted(p.name for p in out.iterdir())), markup=False)


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
