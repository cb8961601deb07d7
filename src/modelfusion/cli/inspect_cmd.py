"""`modelfusion inspect MODEL [MODEL...]`: the compatibility report (metadata only)."""

from __future__ import annotations

from pathlib import Path

import typer

from modelfusion.cli.errors import user_errors
from modelfusion.cli.format import human_bytes


def inspect_command(
    models: list[Path] = typer.Argument(..., help="Model folders or weight files."),
    base: Path | None = typer.Option(None, "--base", help="The base model (for task-vector methods, SLERP, ...)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Can these models be merged? Config, tensors, vocabularies, dtypes, sizes, applicable methods and costs.

    Reads metadata only (tensor headers, config.json, tokenizer files): no tensor data.
    """
    import json

    from modelfusion.analysis.compatibility import inspect_models

    with user_errors():
        report = inspect_models(models, base)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2, default=str))
        return
    _render(report)


def _render(r) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    labels = [m.label for m in r.models]
    models = Table(title="models", title_justify="left")
    for col in ("", *labels):
        models.add_column(col, justify="left" if not col else "right", overflow="fold")
    models.add_row("architecture", *[m.architecture for m in r.models])
    models.add_row("tensors", *[f"{m.tensors:,}" for m in r.models])
    models.add_row("parameters (float)", *[f"{m.parameters:,}" for m in r.models])
    models.add_row("size", *[human_bytes(m.nbytes) for m in r.models])
    models.add_row("dtypes", *[", ".join(f"{k}: {v}" for k, v in m.dtypes.items()) for m in r.models])
    models.add_row("vocab_size / embedding rows", *[f"{m.vocab_size} / {m.embedding_rows}" for m in r.models])
    console.print(models)

    config = Table(title="config (key fields and every differing key)", title_justify="left")
    for col in ("key", *labels):
        config.add_column(col, overflow="fold")
    for key, values, differs in r.config:
        style = "bold red" if differs else None
        config.add_row(key, *values, style=style)
    if r.config:
        console.print(config)

    console.print(f"[bold]tensors[/]: {r.common_tensors:,} in common")
    for label, names in r.only_in.items():
        console.print(f"  only in {label}: {len(names)} (e.g. {', '.join(names[:3])})")
    for title, rows in (("shape differences", r.shape_differences), ("dtype differences", r.dtype_differences)):
        if rows:
            table = Table(title=f"{title} ({len(rows)})", title_justify="left")
            for col in ("tensor", *labels):
                table.add_column(col, overflow="fold")
            for name, values in rows[:20]:
                table.add_row(name, *values)
            console.print(table)
    if r.tokenizer:
        table = Table(title="tokenizer files (compared with the first model that has each)", title_justify="left")
        for col in ("file", *labels):
            table.add_column(col)
        for name, status in r.tokenizer:
            table.add_row(name, *status)
        console.print(table)
    console.print(f"[bold]vocabulary[/]: {r.vocabulary}")

    methods = Table(title=f"merge methods{f' (base {r.base})' if r.base else ''}", title_justify="left")
    for col in ("method", "applies", "estimated cost, or why not"):
        methods.add_column(col, overflow="fold")
    for v in r.methods:
        if v.applies:
            e = v.estimate
            cost = (
                f"read {human_bytes(e['bytes_to_read'])}, write {human_bytes(e['bytes_to_write'])}, "
                f"peak {human_bytes(e['peak_memory'])} with {e['threads']} threads"
            )
            methods.add_row(v.method, "[green]yes[/]", cost)
        else:
            methods.add_row(v.method, "[red]no[/]", "\n".join(v.reasons))
    console.print(methods)
    console.print(f"[bold]advice[/]: {r.advice}")
