"""Typer command/group classes whose --help flag is parsed without pydantic.

Typer (0.29) coerces every parameter value through a pydantic TypeAdapter, built on first use. When `--help` is
*not* given, its flag value is None rather than False, so even `modelfusion methods` (no parameters of its own)
built a TypeAdapter and imported pydantic: ~0.15 s of the start-up. Reading an absent flag as False lets
Typer skip coercion (a bool value of a bool flag needs none); `--help` itself behaves exactly as before.
Commands with real parameters (merge, inspect, ...) still import pydantic when they parse them.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand, TyperGroup


def _absent_flag_is_false(option: Any) -> Any:
    """Wrap option.process_value so an absent flag (None) arrives as False."""
    if option is None or getattr(option, "_absent_is_false", False):
        return option
    process_value = option.process_value

    def process(ctx: Any, value: Any) -> Any:
        return process_value(ctx, False if value is None else value)

    option.process_value = process
    option._absent_is_false = True
    return option


class Command(TyperCommand):
    """A Typer command whose --help flag needs no pydantic."""

    def get_help_option(self, ctx: Any) -> Any:
        return _absent_flag_is_false(super().get_help_option(ctx))


class Group(TyperGroup):
    """A Typer group whose --help flag needs no pydantic."""

    def get_help_option(self, ctx: Any) -> Any:
        return _absent_flag_is_false(super().get_help_option(ctx))
