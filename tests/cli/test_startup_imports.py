"""`modelfusion --help` and `modelfusion methods` start fast: they never import the heavy libraries.

Each command runs in a fresh interpreter (a subprocess), which reports the modules it ended up with.
Speed itself is measured in bench/, not here; this guards the cause (an eager import creeping back).
Typer coerces every parameter value through pydantic, its group's absent --help flag included, so any
sub-command (even `methods`, which has no parameters) imports pydantic (about 0.1 s); `--help` alone does not.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Libraries (and our own modules that pull them in) that neither command needs.
HEAVY = (
    "torch",
    "numpy",
    "pydantic",
    "typer._adapters",
    "yaml",
    "safetensors",
    "transformers",
    "sklearn",
    "matplotlib",
    "modelfusion.api",
    "modelfusion.recipe",
    "modelfusion.plan",
    "modelfusion.engine",
    "modelfusion.checkpoint",
    "modelfusion.analysis",
    "modelfusion.ensemble",
)

TYPER_COERCION = ("pydantic", "typer._adapters")
"""What typer itself imports to coerce parameter values: allowed once a sub-command runs."""

RUN = """
import sys
heavy = sys.argv[1].split(",")
sys.argv = ["modelfusion", *sys.argv[2:]]
from modelfusion.cli.main import run
try:
    run()
finally:
    loaded = sorted(h for h in heavy if any(m == h or m.startswith(h + ".") for m in sys.modules))
    print("LOADED:" + ",".join(loaded), file=sys.stderr)
"""


def _run_cli(*args: str) -> tuple[int, str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", RUN, ",".join(HEAVY), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "120"},
    )
    marker = [line for line in done.stderr.splitlines() if line.startswith("LOADED:")]
    assert marker, done.stderr
    loaded = [m for m in marker[-1].removeprefix("LOADED:").split(",") if m]
    return done.returncode, done.stdout, loaded


@pytest.mark.parametrize(
    ("args", "expected", "allowed"),
    [
        (("--help",), ["merge", "methods", "inspect", "compare", "ensemble", "List merge methods"], ()),
        (("methods",), ["merge methods", "linear", "slerp", "ties", "task_arithmetic"], TYPER_COERCION),
    ],
)
def test_command_imports_nothing_heavy(args: tuple[str, ...], expected: list[str], allowed: tuple[str, ...]) -> None:
    code, out, loaded = _run_cli(*args)
    assert code == 0, out
    for text in expected:
        assert text in out, f"{text!r} missing from `modelfusion {' '.join(args)}`:\n{out}"
    heavy = [m for m in loaded if m not in allowed]
    assert heavy == [], f"`modelfusion {' '.join(args)}` imported {heavy}"


def test_guard_sees_heavy_imports() -> None:
    # The probe itself works: a command that reads a recipe loads the recipe layer.
    code, _, loaded = _run_cli("merge", "no_such_recipe.yaml", "out", "--dry-run")
    assert code != 0
    assert "pydantic" in loaded and "modelfusion.recipe" in loaded
