"""`modelfusion moe CONFIG OUT`: a Mixtral / Qwen2-MoE model from dense experts, from a mergekit-moe config."""

from __future__ import annotations

from pathlib import Path

import typer

from modelfusion.cli.errors import user_errors


def moe_command(
    config: Path = typer.Argument(..., help="The MoE config (mergekit-moe's YAML schema)."),
    out: Path = typer.Argument(..., help="Output model folder (written atomically)."),
    seed: int = typer.Option(0, "--seed", help="Seed of random / uniform_random routers and of noise_scale."),
    hidden_dtype: str = typer.Option(
        "bfloat16", "--hidden-dtype", help="dtype the base runs in for the hidden gate modes (mergekit: bfloat16)."
    ),
    device: str = typer.Option("cpu", "--device", help="Device the base runs on for the hidden gate modes."),
    allow_all_same: bool = typer.Option(
        False, "--allow-all-same", help="Build even if every expert is the same model (to train further)."
    ),
    out_shard_size: str = typer.Option("5B", "--out-shard-size", help="Largest shard: 5B = 5e9 bytes, 500MB, 2GiB."),
    copy_tokenizer: bool = typer.Option(True, "--copy-tokenizer/--no-copy-tokenizer", help="Copy the tokenizer."),
    model_card: bool = typer.Option(True, "--model-card/--no-model-card", help="Write README.md and provenance."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT once the new model is complete."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Build a mixture-of-experts model: the base's attention and embeddings, each expert's MLP, prompt routers."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with user_errors():
        from modelfusion.checkpoint.shard_layout import parse_size
        from modelfusion.moe import MoEOptions, build_moe

        options = MoEOptions(
            allow_all_same=allow_all_same,
            seed=seed,
            hidden_dtype=hidden_dtype,
            device=device,
            overwrite=overwrite,
            shard_bytes=parse_size(out_shard_size),
            copy_tokenizer=copy_tokenizer,
            model_card=model_card,
        )
        progress = Progress(
            TextColumn("writing"), BarColumn(), MofNCompleteColumn(), console=Console(stderr=True), disable=quiet
        )
        task = progress.add_task("moe", total=None)
        with progress:
            result = build_moe(
                config, out, options, progress=lambda done, total: progress.update(task, completed=done, total=total)
            )
    worst = max(result.condition, default=0.0)
    typer.echo(
        f"{result.out}: {result.architecture}, {result.experts} experts x {result.layers} layers, "
        f"{result.tensors} tensors, {result.bytes / 1e6:.1f} MB (worst router condition number {worst:.3g})"
    )
