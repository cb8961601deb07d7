"""`--report` with `--resume`: the journaled tensors are observed too (inputs read again, output read back from
the staged shard), so the report of a resumed run is the report of an uninterrupted one."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelfusion import merge
from modelfusion.errors import OutputError
from tests.hostile.interrupt import interrupted_merge, tree_bytes
from tests.hostile.make_cases import good_model

OPTIONS = {"threads": 1, "out_shard_size": "20KB"}


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    base, ft1, ft2 = (good_model(tmp_path / f"m{i}", seed=i, layers=4, hidden=32) for i in range(3))
    path = tmp_path / "recipe.yaml"
    path.write_text(
        f"merge_method: ties\nbase_model: {base}\nmodels:\n"
        f"  - model: {ft1}\n    parameters: {{weight: 0.6, density: 0.5}}\n"
        f"  - model: {ft2}\n    parameters: {{weight: 0.4, density: 0.7}}\n"
    )
    return path


def test_resumed_run_writes_the_same_report(recipe: Path, tmp_path: Path) -> None:
    merge(recipe, tmp_path / "reference", report=True, **OPTIONS)
    out = tmp_path / "out"
    interrupted_merge(recipe, out, 9, report=True, **OPTIONS)
    result = merge(recipe, out, report=True, resume=True, **OPTIONS)
    assert result.resumed == 9
    expected, got = tree_bytes(tmp_path / "reference"), tree_bytes(out)
    report = (out / "merge_report.md").read_text()
    assert report == (tmp_path / "reference" / "merge_report.md").read_text()
    assert "not observed" not in report
    weights = {k: v for k, v in expected.items() if k.endswith(".safetensors")}
    assert weights and {k: got[k] for k in weights} == weights


def test_resume_with_other_nonfinite_option_is_refused(recipe: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    interrupted_merge(recipe, out, 9, **OPTIONS)
    with pytest.raises(OutputError, match="other options"):
        merge(recipe, out, resume=True, allow_nonfinite=True, **OPTIONS)
