"""`modelfusion search`: a config file with a Python objective; bad configs exit 2 with one line."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from modelfusion.cli.main import app

from .helpers import weights_config

OBJECTIVE = """
def score(state, split):
    return -float(sum((t.float() ** 2).sum() for t in state.values()))
"""


def _write(tmp_path, config) -> str:
    (tmp_path / "obj.py").write_text(OBJECTIVE)
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_search_command_writes_outputs_and_merges_best(tiny_models, tmp_path):
    config = _write(tmp_path, weights_config(tiny_models, trials=3, objective={"python": "obj.py:score"}))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["search", config, str(out), "--trials", "2", "--merge-best", "-q"])
    assert result.exit_code == 0, result.output
    for name in ("best.yaml", "trials.csv", "search_report.md", "study.db"):
        assert (out / name).is_file()
    assert any((out / "model").glob("*.safetensors"))
    assert len((out / "trials.csv").read_text().splitlines()) == 3  # header + 2 trials (--trials wins)


def test_bad_config_exits_2_with_one_line(tiny_models, tmp_path):
    config = weights_config(tiny_models, objective={"python": "obj.py:score"})
    config["models"][0]["parameters"]["weight"]["low"] = 3.0
    path = _write(tmp_path, config)
    result = CliRunner().invoke(app, ["search", path, str(tmp_path / "out")])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and path in lines[0] and "greater than high" in lines[0]


def test_ctrl_c_says_how_to_continue(tiny_models, tmp_path):
    (tmp_path / "obj.py").write_text("def score(state, split):\n    raise KeyboardInterrupt\n")
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(weights_config(tiny_models, objective={"python": "obj.py:score"})))
    result = CliRunner().invoke(app, ["search", str(path), str(tmp_path / "out"), "-q"])
    assert result.exit_code == 130
    assert "run the same command to continue" in result.output
    assert (tmp_path / "out" / "trials.csv").is_file()
