"""The `modelfusion` command. Sub-commands import their heavy dependencies lazily."""

from __future__ import annotations

import gc

import typer

from modelfusion.cli.compare_cmd import compare_command
from modelfusion.cli.ensemble_cmd import ensemble_app
from modelfusion.cli.inspect_cmd import inspect_command
from modelfusion.cli.merge_cmd import merge_command
from modelfusion.cli.methods_cmd import methods_command
from modelfusion.cli.typer_classes import Command, Group

app = typer.Typer(
    name="modelfusion",
    cls=Group,
    help="Combine AI models: merge checkpoints by their weights, or ensemble them by their outputs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("merge", cls=Command)(merge_command)
app.command("methods", cls=Command)(methods_command)
app.add_typer(ensemble_app, name="ensemble")
app.command("inspect", cls=Command)(inspect_command)
app.command("compare", cls=Command)(compare_command)


def run() -> None:
    try:
        app()
    finally:
        # The process ends next: frozen objects are skipped by the collector's full passes at interpreter
        # shutdown, which otherwise walk every object torch created (about 0.3 s of CPU per command).
        gc.freeze()


if __name__ == "__main__":
    run()
