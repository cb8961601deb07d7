"""`modelfusion methods`: every merge method with its parameters."""

from __future__ import annotations


def methods_command() -> None:
    """List merge methods and their parameters (name, type, default, range, per-model or global)."""
    from rich.console import Console
    from rich.table import Table

    from modelfusion.methods import all_methods

    table = Table(title="merge methods")
    for col in ("method", "base model", "models", "parameters", "summary"):
        table.add_column(col, overflow="fold")
    for m in all_methods():
        params = "\n".join(_param_line(p) for p in m.params) or "-"
        count = (
            f"{m.min_models}+"
            if m.max_models is None
            else (str(m.min_models) if m.min_models == m.max_models else f"{m.min_models}-{m.max_models}")
        )
        base = {"none": "-", "separate": "required", "optional": "optional"}[m.base_role]
        table.add_row(m.name, base, count, params, m.summary)
    Console().print(table)


def _param_line(p) -> str:
    default = "required" if p.required else f"default {p.default}"
    lo = "-inf" if p.low is None else f"{p.low:g}"
    hi = "inf" if p.high is None else f"{p.high:g}"
    rng = "" if p.type is bool else f" in [{lo}, {hi}]"
    scope = "per model" if p.per_model else "global"
    return f"{p.name}: {p.type.__name__}, {default}{rng}, {scope}"
