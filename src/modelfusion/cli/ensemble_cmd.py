"""`modelfusion ensemble evaluate CONFIG` (cross-validated member-vs-ensemble table), `ensemble fit CONFIG OUT`
(fit and save with a model card), `ensemble predict OUT DATA` (predict from a saved ensemble)."""

from __future__ import annotations

import json
import sys
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


@ensemble_app.command("fit")
def fit_command(
    config: Path = typer.Argument(..., help="Ensemble YAML (as for `ensemble evaluate`): sklearn / torch_net members."),
    out: Path = typer.Argument(..., help="Folder to write: ensemble.skops, manifest.json, config.yaml, README.md."),
    cv: bool = typer.Option(
        False, "--cv", help="Cross-validate first (the config's evaluation) and put the scores in the model card."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
) -> None:
    """Fit the ensemble of CONFIG on all its data and save it to OUT (skops, no pickle) with a model card."""
    from rich.console import Console

    with user_errors():
        from modelfusion.ensemble.reuse import fit_config

        manifest = fit_config(config, out, cv=cv, overwrite=overwrite)
    score = ""
    if manifest["cv"]:
        score = f"; CV {manifest['cv']['metric']} {manifest['cv']['ensemble']['mean']:.4f}"
    Console().print(f"wrote {out}: {manifest['combiner']} of {len(manifest['members'])} members{score}")


@ensemble_app.command("predict")
def predict_command(
    folder: Path = typer.Argument(..., help="A folder written by `modelfusion ensemble fit`."),
    data: Path = typer.Argument(
        ...,
        help="CSV / JSONL with the training's feature (or text) columns by name, or a 2-d .npy array "
        "of the numeric features in training order.",
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the CSV here (default: standard output)."),
    proba: bool = typer.Option(
        False, "--proba", help="Add one probability column per class (classifiers with predict_proba)."
    ),
) -> None:
    """Predict the rows of DATA with the saved ensemble in FOLDER; a CSV with a `prediction` column."""
    import csv
    import io

    with user_errors():
        from modelfusion.ensemble.reuse import predict_folder

        predictions, probabilities, classes = predict_folder(folder, data, proba=proba)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["prediction", *(f"proba_{c}" for c in classes or [])])
    for i, p in enumerate(predictions.tolist()):
        writer.writerow([p, *([] if probabilities is None else [repr(float(v)) for v in probabilities[i]])])
    if output is None:
        sys.stdout.write(buf.getvalue())
        return
    tmp = output.with_name(output.name + ".partial")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    tmp.replace(output)
