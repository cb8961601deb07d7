"""The ensemble config is read by the recipe layer's hardened YAML loader: hostile files are refused quickly."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from modelfusion.cli.main import app
from modelfusion.ensemble.config import load_config
from modelfusion.errors import UserError
from modelfusion.recipe.yaml_source import MAX_YAML_BYTES

VALID = """\
data: {path: d.csv, label: y}
members:
  - {name: nb, type: sklearn, estimator: sklearn.naive_bayes.GaussianNB}
combiner: {type: soft_voting}
"""

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(c)}: &{chr(c)} [*{chr(c - 1)}, *{chr(c - 1)}, *{chr(c - 1)}, *{chr(c - 1)}, *{chr(c - 1)}, "
    f"*{chr(c - 1)}, *{chr(c - 1)}, *{chr(c - 1)}, *{chr(c - 1)}, *{chr(c - 1)}]\n"
    for c in range(ord("b"), ord("j"))
)
"""Nine levels of ten aliases each: 10**9 strings once expanded (a 'billion laughs')."""


def _error(tmp_path, text: str | bytes) -> str:
    path = tmp_path / "ens.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(UserError) as e:
        load_config(path)
    assert e.value.where == str(path)
    return e.value.message


def test_valid_config_loads(tmp_path) -> None:
    (tmp_path / "ens.yaml").write_text(VALID)
    assert load_config(tmp_path / "ens.yaml").members[0].name == "nb"


def test_alias_bomb_is_refused_before_expansion(tmp_path) -> None:
    started = time.perf_counter()
    message = _error(tmp_path, ALIAS_BOMB)
    assert "alias bomb" in message and "config" in message
    assert time.perf_counter() - started < 10  # expanded, it would not fit in memory


def test_recursive_alias_is_refused(tmp_path) -> None:
    assert "alias" in _error(tmp_path, "a: &a [*a]\n")


def test_oversize_file_is_refused_unparsed(tmp_path) -> None:
    text = VALID + "# " + "x" * MAX_YAML_BYTES + "\n"
    assert f"larger than {MAX_YAML_BYTES // 1024} KiB" in _error(tmp_path, text)


def test_deep_nesting_is_refused(tmp_path) -> None:
    assert "nested more than" in _error(tmp_path, "a: " + "[" * 5000 + "]" * 5000 + "\n")


def test_validation_error_names_the_line(tmp_path) -> None:
    message = _error(tmp_path, VALID.replace("type: soft_voting", "type: bagging"))
    assert message.startswith("line 4: combiner.type")


def test_missing_file_and_several_documents(tmp_path) -> None:
    with pytest.raises(UserError, match="no such config file"):
        load_config(tmp_path / "absent.yaml")
    assert "one YAML document" in _error(tmp_path, VALID + "---\n" + VALID)
    assert "cannot read config" in _error(tmp_path, b"data: \xff\xfe\n")


def test_cli_prints_one_red_line(tmp_path) -> None:
    (tmp_path / "ens.yaml").write_text(ALIAS_BOMB)
    result = CliRunner().invoke(app, ["ensemble", "evaluate", str(tmp_path / "ens.yaml")])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and "Traceback" not in result.output, result.output
    assert "ens.yaml" in lines[0] and "alias bomb" in lines[0]
