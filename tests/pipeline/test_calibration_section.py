"""A recipe's `calibration:` section: statistics computed before the merge equal `modelfusion calibrate` by hand
plus `statistics:`; every data-free problem is found before any model runs; a dry run computes nothing."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from modelfusion import merge
from modelfusion.cli.main import app
from modelfusion.errors import PlanError, RecipeWarning
from tests.tiny_tokenizers import WORDS, save_worded_llama

LINES = ["the cat sat on the mat", "the cat sat", "on the mat the cat sat on", "mat", "sat on the cat"]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("calibration")
    for name, seed in (("ft1", 1), ("ft2", 2)):
        save_worded_llama(root / name, WORDS["a"], seed=seed)
    (root / "data.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    (root / "calib.py").write_text(f"def lines():\n    return {LINES!r}\n", encoding="utf-8")
    return root


def _recipe(root: Path, name: str, text: str) -> Path:
    path = root / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _stats_files(cache: Path) -> list[Path]:
    return sorted((cache / "statistics").glob("*.safetensors")) if (cache / "statistics").is_dir() else []


def test_regmean_with_calibration_equals_calibrate_by_hand(project, tmp_path):
    by_hand = []
    for name in ("ft1", "ft2"):
        out = tmp_path / f"{name}.stats.safetensors"
        args = ["calibrate", str(project / name), "--data", str(project / "data.txt"), "--batch-size", "2"]
        done = CliRunner().invoke(app, [*args, "--out", str(out), "-q"])
        assert done.exit_code == 0, done.output
        by_hand.append(out)
    given = _recipe(
        tmp_path,
        "given",
        "merge_method: regmean\ndtype: float32\nmodels:\n"
        + "".join(f"  - model: {project / n}\n    statistics: {s}\n" for n, s in zip(("ft1", "ft2"), by_hand)),
    )
    calibrated = _recipe(
        project,
        "regmean",
        "merge_method: regmean\ndtype: float32\ncalibration: {text: data.txt, batch_size: 2}\n"
        "models:\n  - model: ft1\n  - model: ft2\n",
    )
    cache = tmp_path / "cache"
    calls: list[tuple[str, int, int]] = []
    merge(given, tmp_path / "given")
    result = merge(calibrated, tmp_path / "calibrated", cache_dir=cache, on_calibrate=lambda *a: calls.append(a))
    expected = load_file(str(tmp_path / "given" / "model.safetensors"))
    got = load_file(str(tmp_path / "calibrated" / "model.safetensors"))
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name
    assert len(_stats_files(cache)) == 2 and [j.model for j in result.calibration] == ["ft1", "ft2"]
    assert {c[0] for c in calls} == {"ft1", "ft2"} and calls[-1][1] == calls[-1][2] == 3  # 5 lines, 2 a batch
    hand_stats = load_file(str(by_hand[0]))
    ours = load_file(str(result.calibration[0].out))
    assert hand_stats.keys() == ours.keys() and all(torch.equal(hand_stats[k], ours[k]) for k in ours)
    mtimes = [p.stat().st_mtime_ns for p in _stats_files(cache)]
    calls.clear()
    merge(calibrated, tmp_path / "calibrated", cache_dir=cache, overwrite=True, on_calibrate=lambda *a: calls.append(a))
    assert calls == [] and [p.stat().st_mtime_ns for p in _stats_files(cache)] == mtimes  # cached


def test_python_function_of_strings_equals_the_text_file(project, tmp_path):
    outs = {}
    for name, source in (("text", "text: data.txt"), ("python", "python: calib.py:lines")):
        recipe = _recipe(
            project,
            f"fisher-{name}",
            f"merge_method: fisher\ndtype: float32\nmodels:\n  - model: ft1\n    calibration: {{{source}}}\n"
            "  - model: ft2\n    calibration: {" + source + ", examples: 4, fisher_labels: given}\n",
        )
        merge(recipe, tmp_path / name, cache_dir=tmp_path / "cache")
        outs[name] = load_file(str(tmp_path / name / "model.safetensors"))
    assert all(torch.equal(outs["text"][k], outs["python"][k]) for k in outs["text"])


def test_dry_run_lists_the_statistics_and_computes_nothing(project, tmp_path):
    recipe = _recipe(
        project,
        "dry",
        "merge_method: regmean\ncalibration: {text: data.txt}\nmodels:\n  - model: ft1\n  - model: ft2\n",
    )
    cache = tmp_path / "cache"
    result = merge(recipe, tmp_path / "out", dry_run=True, cache_dir=cache)
    assert [j.model for j in result.calibration] == ["ft1", "ft2"]
    assert all(
        "gram from text: data.txt" in j.describe() and "(to compute)" in j.describe() for j in result.calibration
    )
    assert result.summary.by_method.get("regmean") and not _stats_files(cache) and not (tmp_path / "out").exists()
    done = CliRunner(env={"MODELFUSION_CACHE": str(cache)}).invoke(
        app, ["merge", str(recipe), str(tmp_path / "out"), "--dry-run"]
    )
    assert done.exit_code == 0, done.output
    assert "statistics: model ft1: gram from text: data.txt" in done.output and not _stats_files(cache)


@pytest.mark.parametrize(
    ("calibration", "message"),
    [
        ("", "needs the 'gram' statistics of model ft2"),
        ("calibration: {text: nowhere.txt}", "calibration data file 'nowhere.txt' of model ft1 not found"),
        ("calibration: {python: nowhere.py:f}", "calibration python file 'nowhere.py' of model ft1 not found"),
        ("calibration: {python: calib.py:missing}", "calibration python file 'calib.py' of model ft1 has no function"),
        ("calibration: {python: calib.py}", "must be 'file.py:function'"),
    ],
)
def test_data_free_problems_name_the_model_and_run_nothing(project, tmp_path, calibration, message):
    own = "\n    calibration: {text: data.txt}" if not calibration else ""
    recipe = _recipe(
        project,
        "bad",
        f"merge_method: regmean\n{calibration}\nmodels:\n  - model: ft1{own}\n  - model: ft2\n",
    )
    cache = tmp_path / "cache"
    with pytest.raises(PlanError, match=re.escape(message)):
        merge(recipe, tmp_path / "out", cache_dir=cache)
    assert not _stats_files(cache) and not (tmp_path / "out").exists()
    done = CliRunner().invoke(app, ["merge", str(recipe), str(tmp_path / "out")])
    assert done.exit_code == 2 and message in " ".join(done.output.split())


def test_calibration_a_method_does_not_use_warns_and_strict_refuses(project, tmp_path):
    recipe = _recipe(
        project,
        "linear",
        "merge_method: linear\ndtype: float32\ncalibration: {text: data.txt}\nmodels:\n"
        "  - model: ft1\n    parameters: {weight: 1.0}\n  - model: ft2\n    parameters: {weight: 1.0}\n",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = merge(recipe, tmp_path / "out", dry_run=True, cache_dir=tmp_path / "cache")
    assert any(issubclass(w.category, RecipeWarning) and "calibration is not used" in str(w.message) for w in caught)
    assert result.calibration == ()
    with pytest.raises(PlanError, match="calibration is not used"):
        merge(recipe, tmp_path / "out", dry_run=True, cache_dir=tmp_path / "cache", strict=True)


def test_a_model_with_a_statistics_file_keeps_it(project, tmp_path):
    recipe = _recipe(
        project,
        "both",
        "merge_method: regmean\ncalibration: {text: data.txt}\nmodels:\n"
        "  - model: ft1\n    statistics: nowhere.safetensors\n  - model: ft2\n",
    )
    with pytest.raises(PlanError, match=re.escape("statistics file 'nowhere.safetensors' of model ft1 not found")):
        merge(recipe, tmp_path / "out", dry_run=True, cache_dir=tmp_path / "cache")


def test_an_intermediate_stage_is_reused_until_its_calibration_data_changes(project, tmp_path):
    data = tmp_path / "stage-data.txt"
    data.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    recipe = _recipe(
        tmp_path,
        "stages",
        f"name: soup\nmerge_method: regmean\ndtype: float32\ncalibration: {{text: {data}}}\nmodels:\n"
        f"  - model: {project / 'ft1'}\n  - model: {project / 'ft2'}\n---\n"
        f"merge_method: linear\ndtype: float32\nmodels:\n  - model: soup\n  - model: {project / 'ft1'}\n",
    )
    cache = tmp_path / "cache"

    def run() -> bool:
        reused: list[bool] = []
        merge(recipe, tmp_path / "out", cache_dir=cache, overwrite=True, on_stage=lambda i, n, f, r: reused.append(r))
        return reused[0]

    assert run() is False
    assert run() is True
    data.write_text("\n".join(reversed(LINES)) + "\n", encoding="utf-8")
    assert run() is False and len(_stats_files(cache)) == 4
