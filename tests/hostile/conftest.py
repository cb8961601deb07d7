"""Helpers for the hostile-input tests: run the CLI in-process, and check a failure left nothing behind."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelfusion.checkpoint.publish import STAGING_PREFIX
from modelfusion.cli.main import app
from tests.conftest import snapshot
from tests.hostile.make_cases import good_model


@dataclass
class CliResult:
    exit_code: int
    output: str
    exception: BaseException | None


def run_cli(*args: str) -> CliResult:
    result = CliRunner().invoke(app, [str(a) for a in args])
    exc = result.exception if not isinstance(result.exception, SystemExit) else None
    return CliResult(result.exit_code, result.output, exc)


def linear_recipe(folder: Path, models: list[Path | str], name: str = "recipe.yaml") -> Path:
    """A linear recipe averaging `models` (paths written as given)."""
    lines = ["merge_method: linear", "models:"]
    for m in models:
        lines += [f"  - model: {m}", "    parameters:", f"      weight: {1 / len(models)}"]
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def leftovers(parent: Path) -> list[str]:
    """Staging folders (temporary files) left in `parent`."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(STAGING_PREFIX))


def assert_clean_failure(result: CliResult, out: Path, *fragments: str) -> None:
    """Exit 2, one clear message containing every fragment, no traceback, nothing at OUT, no temp files."""
    assert result.exception is None, f"unexpected exception {result.exception!r}\n{result.output}"
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output, result.output
    assert result.output.startswith("error:"), result.output
    for fragment in fragments:
        assert fragment in result.output, f"{fragment!r} not in {result.output!r}"
    assert not out.exists(), f"{out} was created"
    if out.parent.exists():
        assert leftovers(out.parent) == []


@contextlib.contextmanager
def untouched(*folders: Path) -> Iterator[None]:
    """Fail if any file under `folders` changed its bytes or mtime (or appeared / vanished)."""
    before = [snapshot(f) for f in folders]
    yield
    after = [snapshot(f) for f in folders]
    assert after == before, "an input was modified"


@pytest.fixture
def good(tmp_path: Path) -> Path:
    """A valid model folder to merge a broken one with."""
    return good_model(tmp_path / "good", seed=0)
