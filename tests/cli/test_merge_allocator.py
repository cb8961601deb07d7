"""glibc's allocator is tuned by the `modelfusion merge` process only: library callers keep their own."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from modelfusion import api
from modelfusion.cli.main import app
from modelfusion.engine import allocator


class FakeLibc:
    """Records mallopt / malloc_trim calls instead of making them."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def mallopt(self, option: int, value: int) -> int:
        self.calls.append(f"mallopt({option}, {value})")
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append("malloc_trim")
        return 1


@pytest.fixture
def libc(monkeypatch) -> FakeLibc:
    fake = FakeLibc()
    monkeypatch.setattr(allocator, "_libc", lambda: fake)
    allocator.reuse_freed_memory.cache_clear()  # once per process: forget an earlier test's call
    yield fake
    allocator.reuse_freed_memory.cache_clear()


def _recipe(folder: Path, models: list[Path]) -> Path:
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump({"merge_method": "linear", "models": [{"model": str(p)} for p in models]}))
    return path


def test_library_merge_leaves_the_allocator_alone(libc, tiny_gpt2s, tmp_path) -> None:
    api.merge(_recipe(tmp_path, tiny_gpt2s), tmp_path / "out", threads=2)
    assert (tmp_path / "out" / "model.safetensors").is_file()
    assert libc.calls == []


def test_cli_merge_tunes_its_own_process(libc, tiny_gpt2s, tmp_path) -> None:
    result = CliRunner().invoke(app, ["merge", str(_recipe(tmp_path, tiny_gpt2s)), str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output
    assert len([c for c in libc.calls if c.startswith("mallopt")]) == 3


def test_cli_dry_run_does_not_tune(libc, tiny_gpt2s, tmp_path) -> None:
    result = CliRunner().invoke(app, ["merge", str(_recipe(tmp_path, tiny_gpt2s)), str(tmp_path / "out"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert libc.calls == []
