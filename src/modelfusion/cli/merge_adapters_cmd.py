"""`modelfusion merge-adapters ADAPTER... --out OUT --combination svd --weights 1,1`: several LoRA adapters of one
base into one adapter (PEFT's add_weighted_adapter)."""

from __future__ import annotations

from pathlib import Path

import typer

from modelfusion.cli.errors import user_errors

TYPES = (
    "cat, linear, svd, ties, ties_svd, dare_linear, dare_linear_svd, dare_ties, dare_ties_svd, "
    "magnitude_prune, magnitude_prune_svd"
)


def merge_adapters_command(
    adapters: list[Path] = typer.Argument(..., help="PEFT LoRA adapter folders of one base model."),
    out: Path = typer.Option(..., "--out", "-o", help="Output adapter folder (written atomically)."),
    combination: str = typer.Option("svd", "--combination", "-c", help=f"PEFT's combination_type: {TYPES}."),
    weights: str = typer.Option(None, "--weights", "-w", help="Comma-separated, one per adapter (default 1 each)."),
    density: float = typer.Option(None, "--density", help="Fraction kept (ties, dare_*, magnitude_prune*)."),
    majority_sign: str = typer.Option("total", "--majority-sign", help="Sign election: total or frequency."),
    svd_rank: int = typer.Option(None, "--svd-rank", help="Rank of the *svd types (default: the largest input r)."),
    svd_clamp: float = typer.Option(None, "--svd-clamp", help="Quantile clamp of the SVD factors (0 to 1)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the dare types' random drops."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT once the new adapter is complete."),
) -> None:
    """Merge LoRA adapters into one adapter folder PEFT loads, as PEFT's add_weighted_adapter does."""
    with user_errors():
        from modelfusion.errors import UserError
        from modelfusion.lora.merge_adapters import AdapterMergeOptions, merge_adapters

        try:
            parsed = [float(w) for w in weights.split(",")] if weights else None
        except ValueError:
            raise UserError(f"--weights must be comma-separated numbers, got '{weights}'") from None
        options = AdapterMergeOptions(combination, parsed, density, majority_sign, svd_rank, svd_clamp, seed)
        result = merge_adapters(adapters, out, options, overwrite=overwrite)
    ranks = sorted(set(result.ranks.values()))
    shown = f"rank {ranks[0]}" if len(ranks) == 1 else f"ranks {ranks[0]}-{ranks[-1]}"
    typer.echo(
        f"{result.out}: {len(adapters)} adapters merged by {result.combination}, {result.modules} modules, {shown}"
    )
