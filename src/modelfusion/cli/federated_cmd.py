"""`modelfusion federated simulate CONFIG`: a Flower simulation of a built-in task (needs the `federated` extra)."""

from __future__ import annotations

from pathlib import Path

import typer

from modelfusion.cli.errors import user_errors

federated_app = typer.Typer(
    help="Federated merging on Flower: any merge method as the server's aggregation.", no_args_is_help=True
)


@federated_app.command("simulate")
def simulate_command(
    config: Path = typer.Argument(..., help="Simulation config (YAML): task, clients, rounds, strategy, partition."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder for the final global model (overrides config out)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT once the new result is complete."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Flower's and Ray's log."),
) -> None:
    """Run N clients for R rounds with the configured strategy; print accuracy and bytes per round."""
    import importlib.util
    import logging

    from rich.console import Console

    console = Console(stderr=True)
    with user_errors():
        from modelfusion.errors import UserError

        if importlib.util.find_spec("flwr") is None or importlib.util.find_spec("ray") is None:
            raise UserError("needs Flower and Ray: pip install 'modelfusion[federated]'")
        from modelfusion.federated import load_config, simulate

        cfg = load_config(config)
        if not verbose:
            logging.getLogger("flwr").setLevel(logging.WARNING)

        def on_round(r) -> None:
            console.print(
                f"round {r.round}: accuracy {r.accuracy:.4f}, sent {r.bytes_sent} B, received {r.bytes_received} B"
            )

        result = simulate(cfg, out, overwrite=overwrite, on_round=on_round)
    console.print(f"accuracy {result.initial_accuracy:.4f} -> {result.final_accuracy:.4f}")
    if result.rejected:
        console.print(f"{len(result.rejected)} client replies rejected (history.json lists them)")
    if result.out is not None:
        console.print(f"global model: {result.out}")
