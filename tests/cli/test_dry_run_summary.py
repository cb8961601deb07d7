"""The dry run prints what is known before reading (bytes, shards, peak memory for the threads) and no time."""

from __future__ import annotations

import dataclasses

import yaml
from typer.testing import CliRunner

from modelfusion.cli.main import app
from modelfusion.plan.summary import PlanSummary


def test_dry_run_names_the_threads_and_prints_no_time_estimate(tiny_gpt2s, tmp_path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"merge_method": "linear", "models": [{"model": str(p)} for p in tiny_gpt2s]}))
    args = ["merge", str(recipe), str(tmp_path / "out"), "--dry-run", "--threads", "3"]
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 threads" in result.stdout
    assert "not estimated" in result.stdout
    assert "~" not in result.stdout  # no approximate duration anywhere
    assert "seconds" not in {f.name for f in dataclasses.fields(PlanSummary)}
