"""`modelfusion merge` and `modelfusion methods`: user errors are one line, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

from modelfusion.cli.main import app

runner = CliRunner()


def write(folder: Path, recipe: dict | str, name: str = "recipe.yaml") -> Path:
    path = folder / name
    path.write_text(recipe if isinstance(recipe, str) else yaml.safe_dump(recipe, sort_keys=False))
    return path


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_merge_writes_the_model(tiny_gpt2s, tmp_path):
    recipe = write(tmp_path, {"merge_method": "linear", "models": [{"model": str(p)} for p in tiny_gpt2s]})
    result = runner.invoke(app, ["merge", str(recipe), str(tmp_path / "out"), "--threads", "2", "-q"])
    assert result.exit_code == 0, result.output
    assert "merged" in result.stderr
    a, b = (load_file(p / "model.safetensors") for p in tiny_gpt2s)
    out = load_file(tmp_path / "out" / "model.safetensors")
    torch.testing.assert_close(
        out["transformer.wte.weight"], (a["transformer.wte.weight"] + b["transformer.wte.weight"]) / 2
    )


def test_dry_run_prints_the_plan_and_writes_nothing(tiny_gpt2s, tmp_path):
    recipe = write(tmp_path, {"merge_method": "linear", "models": [{"model": str(p)} for p in tiny_gpt2s]})
    result = runner.invoke(app, ["merge", str(recipe), str(tmp_path / "out"), "--dry-run"])
    assert result.exit_code == 0, result.output
    for label in ("dry run", "output tensors", "bytes to read", "bytes to write", "estimated peak memory"):
        assert label in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recipe.yaml"]


def test_dry_run_prints_model_paths_with_brackets_verbatim(tiny_gpt2s, tmp_path, monkeypatch):
    # a path such as "ft[bold]" must not be read as rich markup
    (tmp_path / "ft[bold]").symlink_to(tiny_gpt2s[1], target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    models = [{"model": str(tiny_gpt2s[0])}, {"model": "ft[bold]"}]
    recipe = write(tmp_path, {"merge_method": "linear", "models": models})
    result = runner.invoke(app, ["merge", str(recipe), str(tmp_path / "out"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "ft[bold]" in result.stdout


@pytest.mark.parametrize(
    ("recipe", "expected"),
    [
        (
            {"merge_method": "lineer", "models": [{"model": "{m0}"}]},
            "unknown merge method 'lineer' (did you mean 'linear'?)",
        ),
        ({"merge_method": "linear", "models": [{"model": "{m0}"}], "dtyp": "float32"}, "unknown key 'dtyp'"),
        (
            {"merge_method": "slerp", "base_model": "{m0}", "models": [{"model": "{m1}"}], "parameters": {"t": 2}},
            "'t' = 2 is above its maximum 1.0",
        ),
        (
            {"merge_method": "linear", "models": [{"model": "{m0}", "parameters": {"wieght": 2}}]},
            "no parameter 'wieght' (did you mean 'weight'?)",
        ),
        ({"merge_method": "linear", "models": [{"model": "no/such/model"}]}, "model 'no/such/model' not found"),
        (
            {"merge_method": "slerp", "models": [{"model": "{m0}"}, {"model": "{m1}"}], "parameters": {"t": 0.5}},
            "method 'slerp' needs base_model",
        ),
    ],
)
def test_bad_recipe_is_one_line_exit_2(tiny_gpt2s, tmp_path, recipe, expected):
    text = yaml.safe_dump(recipe).replace("{m0}", str(tiny_gpt2s[0])).replace("{m1}", str(tiny_gpt2s[1]))
    path = write(tmp_path, text)
    result = runner.invoke(app, ["merge", str(path), str(tmp_path / "out")])
    line = one_error_line(result)
    assert expected in line and str(path) in line
    assert not (tmp_path / "out").exists()


def test_messages_with_brackets_are_printed_verbatim(tmp_path):
    path = write(tmp_path, "merge_method: linear\nmodels:\n  - model: '[/x] [bold]'\n")
    line = one_error_line(runner.invoke(app, ["merge", str(path), str(tmp_path / "out")]))
    assert "'[/x] [bold]' not found" in line


def test_existing_output_needs_overwrite(tiny_gpt2s, tmp_path):
    recipe = write(tmp_path, {"merge_method": "linear", "models": [{"model": str(tiny_gpt2s[0])}]})
    (tmp_path / "out").mkdir()
    assert "--overwrite" in one_error_line(runner.invoke(app, ["merge", str(recipe), str(tmp_path / "out")]))
    result = runner.invoke(app, ["merge", str(recipe), str(tmp_path / "out"), "--overwrite", "-q"])
    assert result.exit_code == 0 and (tmp_path / "out" / "model.safetensors").is_file()


def test_bad_shard_size_and_device(tiny_gpt2s, tmp_path):
    recipe = write(tmp_path, {"merge_method": "linear", "models": [{"model": str(tiny_gpt2s[0])}]})
    out = str(tmp_path / "out")
    assert "cannot read size" in one_error_line(
        runner.invoke(app, ["merge", str(recipe), out, "--out-shard-size", "5 parsecs"])
    )
    assert "unknown device" in one_error_line(runner.invoke(app, ["merge", str(recipe), out, "--device", "tpu"]))


def test_real_process_exit_code_and_no_traceback(tmp_path):
    path = write(tmp_path, "merge_method: linear\nmodels: [{model: a}]\nbase_modle: a\n")
    proc = subprocess.run(
        [sys.executable, "-m", "modelfusion.cli.main", "merge", str(path), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.strip()] == [
        f"error: {path}: line 3: unknown key 'base_modle' (did you mean 'base_model'?)"
    ]


def test_methods_lists_linear_and_slerp_with_their_parameters():
    result = runner.invoke(app, ["methods"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    assert "linear" in result.stdout and "slerp" in result.stdout
    assert "weight: float, default 1.0" in result.stdout and "per model" in result.stdout
    assert "t: float, required in [0, 1], global" in result.stdout
