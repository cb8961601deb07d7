"""The `inspect`, `compare` and `merge --report` commands end to end."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from modelfusion.cli.main import app
from tests.analysis.fake_models import three_models

runner = CliRunner()


def test_inspect_json(tmp_path):
    base, ft1, ft2 = three_models(tmp_path)
    result = runner.invoke(app, ["inspect", str(ft1), str(ft2), "--base", str(base), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [m["label"] for m in data["models"]] == ["base", "ft1", "ft2"]
    methods = {m["method"]: m for m in data["methods"]}
    assert methods["ties"]["applies"] and methods["ties"]["estimate"]["bytes_to_write"] > 0
    assert data["mergeable"] is True


def test_inspect_table_and_user_error(tmp_path):
    base, ft1, _ = three_models(tmp_path)
    result = runner.invoke(app, ["inspect", str(base), str(ft1)])
    assert result.exit_code == 0 and "merge methods" in result.output and "advice" in result.output
    result = runner.invoke(app, ["inspect", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "no such file or folder" in result.output


def test_compare_writes_report(tmp_path):
    base, ft1, ft2 = three_models(tmp_path / "m")
    out = tmp_path / "rep"
    result = runner.invoke(
        app, ["compare", "--base", str(base), str(ft1), str(ft2), "-o", str(out), "--density", "0.5"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "report.md").is_file() and (out / "layers.png").is_file()
    assert "By module type" in result.output
    bad = runner.invoke(app, ["compare", "--base", str(base), str(ft1), "--density", "1.5", "-o", str(out)])
    assert bad.exit_code == 2 and "--density" in bad.output


def test_merge_report_flag(tmp_path):
    base, ft1, ft2 = three_models(tmp_path / "m")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "merge_method": "ties",
                "base_model": str(base),
                "models": [{"model": str(m), "parameters": {"weight": 1.0, "density": 0.5}} for m in (ft1, ft2)],
            }
        )
    )
    result = runner.invoke(app, ["merge", str(recipe), str(tmp_path / "out"), "--report", "-q"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "out" / "merge_report.md").read_text()
    assert "Method: `ties`" in text and "| attention |" in text
