"""`--device` is checked in one place (engine/device.py): every command reports a bad one with the same line."""

from __future__ import annotations

import pytest
import torch
import yaml
from typer.testing import CliRunner

from modelfusion.cli.main import app
from modelfusion.engine.device import checked_device
from modelfusion.errors import UserError


def _engine_message(device: str) -> str:
    with pytest.raises(UserError) as e:
        checked_device(device)
    return str(e.value)


def _one_red_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and "Traceback" not in result.output, result.stderr
    return lines[0]


def _commands(models, tmp_path) -> dict[str, list[str]]:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"merge_method": "linear", "models": [{"model": str(p)} for p in models]}))
    out = str(tmp_path / "out")
    return {
        "merge": ["merge", str(recipe), out],
        "merge --dry-run": ["merge", str(recipe), out, "--dry-run"],
        "compare": ["compare", "--base", str(models[0]), str(models[1]), "-o", out, "--no-plots", "-q"],
    }


@pytest.mark.parametrize("device", ["tpu", "cuda:x", *([] if torch.cuda.is_available() else ["cuda"])])
def test_every_command_reports_a_bad_device_as_the_engine_does(device, tiny_gpt2s, tmp_path) -> None:
    expected = f"error: {_engine_message(device)}"
    for name, args in _commands(tiny_gpt2s, tmp_path).items():
        line = _one_red_line(CliRunner().invoke(app, [*args, "--device", device]))
        assert line == expected, name
    assert not (tmp_path / "out").exists()
