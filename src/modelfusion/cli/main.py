"""The `modelfusion` command. Sub-commands import their heavy dependencies lazily."""

from __future__ import annotations

import typer

from modelfusion.cli.adamerge_cmd import adamerge_command
from modelfusion.cli.calibrate_cmd import calibrate_command
from modelfusion.cli.compare_cmd import compare_command
from modelfusion.cli.ensemble_cmd import ensemble_app
from modelfusion.cli.extract_lora_cmd import extract_lora_command
from modelfusion.cli.federated_cmd import federated_app
from modelfusion.cli.inspect_cmd import inspect_command
from modelfusion.cli.merge_adapters_cmd import merge_adapters_command
from modelfusion.cli.merge_cmd import merge_command
from modelfusion.cli.methods_cmd import methods_command
from modelfusion.cli.moe_cmd import moe_command
from modelfusion.cli.search_cmd import search_command

app = typer.Typer(
    name="modelfusion",
    help="Combine AI models: merge checkpoints by their weights, or ensemble them by their outputs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("merge")(merge_command)
app.command("merge-adapters")(merge_adapters_command)
app.command("extract-lora")(extract_lora_command)
app.command("moe")(moe_command)
app.command("methods")(methods_command)
app.add_typer(ensemble_app, name="ensemble")
app.command("inspect")(inspect_command)
app.command("compare")(compare_command)
app.command("search")(search_command)
app.command("calibrate")(calibrate_command)
app.command("adamerge")(adamerge_command)
app.add_typer(federated_app, name="federated")


def run() -> None:
    app()


if __name__ == "__main__":
    run()
