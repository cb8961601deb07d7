"""`modelfusion ensemble evaluate CONFIG`: cross-validated member-vs-ensemble metrics as a table."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from modelfusion.cli.errors import user_errors

ensemble_app = typer.Typer(
    help="Output-space ensembles: voting, averaging, stacking of scikit-learn, PyTorch and Hugging Face models.",
    no_args_is_help=True,
)


@ensemble_app.command("evaluate")
def evaluate_command(
    config: Path = typer.Argument(..., help="Ensemble YAML: task, data, members, combiner, evaluation."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the summary as JSON to this file."),
) -> None:
    """Cross-validate the ensemble of CONFIG and print each member's score next to the ensemble's."""
    from rich.console import Console
    from rich.table import Table

    with user_errors():
        from modelfusion.ensemble.evaluate import evaluate_config

        cfg, result = evaluate_config(config)
    s = result.summary()
    table = Table(title=f"{cfg.combiner.type} of {len(cfg.members)} members - {s['folds']}-fold CV, {s['metric']}")
    table.add_column("model")
    table.add_column(s["metric"], justify="right")
    table.add_column("± std", justify="right")
    table.add_column("weight share", justify="right")
    for name, m in s["members"].items():
        share = "-" if m["share"] is None else f"{m['share']:.2f}"
        style = "bold" if name == s["best_member"] else None
        table.add_row(name, f"{m['mean']:.4f}", f"{m['std']:.4f}", share, style=style)
    table.add_row("ensemble", f"{s['ensemble']['mean']:.4f}", f"{s['ensemble']['std']:.4f}", "", style="bold green")
    console = Console()
    console.print(table)
    console.print(
        f"gain over best member ({s['best_member']}): {s['gain_over_best_member']:+.4f}; "
        f"mean pairwise disagreement between members: {s['mean_disagreement']:.3f}"
    )
    if json_out is not None:
        tmp = json_out.with_name(json_out.name + ".partial")
        tmp.write_text(json.dumps(s, indent=2))
        tmp.replace(json_out)
