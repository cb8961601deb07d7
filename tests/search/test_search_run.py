"""The search loop: in-memory trials, best.yaml reproducing the best trial exactly, failures recorded."""

from __future__ import annotations

import csv
import math

import pytest
import torch
import yaml

from modelfusion import merge, search

from .conftest import tiny_state
from .helpers import distance, weights_config


def _load(folder) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    state = {}
    for f in folder.glob("*.safetensors"):
        state.update(load_file(str(f)))
    return state


def test_best_yaml_merges_to_the_best_trials_state_dict(tiny_models, target, tmp_path):
    splits: list[str] = []

    def objective(state, split):
        splits.append(split)
        return -distance(state, target)

    out = tmp_path / "out"
    summary = search(weights_config(tiny_models, trials=6), out, objective, plots=False)
    assert summary.states == {"COMPLETE": 6}
    assert splits == ["validation"] * 6 + ["test"]
    best = yaml.safe_load((out / "best.yaml").read_text())
    weights = [m["parameters"]["weight"] for m in best["models"]]
    assert weights == [summary.best_params[f"models.{i}.parameters.weight"] for i in (0, 1)]

    merge(out / "best.yaml", tmp_path / "model")
    got = _load(tmp_path / "model")
    base, a, b = tiny_state(0), tiny_state(1), tiny_state(2)
    for k in base:  # task arithmetic: base + sum_i w_i (m_i - base), computed here independently
        fa, fb = base[k] + 0.1 * a[k], base[k] + 0.1 * b[k]
        expected = base[k] + weights[0] * (fa - base[k]) + weights[1] * (fb - base[k])
        torch.testing.assert_close(got[k], expected, rtol=1e-5, atol=1e-6)
    assert summary.best_value == pytest.approx(-distance(got, target), rel=1e-9, abs=1e-12)


def test_merged_model_equals_the_trial_state_dict_bit_for_bit(tiny_models, target, tmp_path):
    states: list[dict[str, torch.Tensor]] = []

    def objective(state, split):
        states.append({k: v.clone() for k, v in state.items()})
        return -distance(state, target)

    summary = search(weights_config(tiny_models, trials=3), tmp_path / "out", objective, merge_best=True, plots=False)
    written = _load(tmp_path / "out" / "model")
    trial_state = states[summary.best_number]
    assert written.keys() == trial_state.keys()
    for k in written:
        assert torch.equal(written[k], trial_state[k]), k


def test_failed_trials_are_recorded_and_the_search_goes_on(tiny_models, tmp_path):
    calls = {"n": 0}

    def objective(state, split):
        calls["n"] += 1
        if split == "validation" and calls["n"] == 2:
            raise RuntimeError("objective broke")
        if split == "validation" and calls["n"] == 3:
            return math.nan
        return float(state["model.layers.0.mlp.weight"].sum())

    summary = search(weights_config(tiny_models, trials=5), tmp_path / "out", objective, plots=False)
    assert summary.states == {"COMPLETE": 3, "FAIL": 2}
    rows = list(csv.DictReader((tmp_path / "out" / "trials.csv").open()))
    assert [r["state"] for r in rows] == ["COMPLETE", "FAIL", "FAIL", "COMPLETE", "COMPLETE"]
    assert rows[1]["error"] == "RuntimeError: objective broke"
    assert "NaN" in rows[2]["error"]
    assert "objective broke" in (tmp_path / "out" / "search_report.md").read_text()


def test_resume_continues_the_count_and_keeps_finished_trials(tiny_models, target, tmp_path):
    def objective(state, split):
        return -distance(state, target)

    out = tmp_path / "out"
    first = search(weights_config(tiny_models, trials=3), out, objective, plots=False)
    rows_before = list(csv.DictReader((out / "trials.csv").open()))
    second = search(weights_config(tiny_models, trials=5), out, objective, plots=False)
    rows_after = list(csv.DictReader((out / "trials.csv").open()))
    assert first.trials == 3 and second.trials == 5
    assert rows_after[:3] == rows_before
    again = search(weights_config(tiny_models, trials=5), out, objective, plots=False)
    assert again.trials == 5  # nothing left to run


def test_interrupted_trials_run_again(tiny_models, target, tmp_path):
    import optuna

    out = tmp_path / "out"
    calls = {"n": 0}

    def interrupting(state, split):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return -distance(state, target)

    with pytest.raises(KeyboardInterrupt):
        search(weights_config(tiny_models, trials=4), out, interrupting, plots=False)
    # a kill -9 leaves a RUNNING trial in the database
    study = optuna.load_study(study_name="modelfusion-search", storage=f"sqlite:///{out / 'study.db'}")
    study.ask()
    summary = search(weights_config(tiny_models, trials=4), out, lambda s, split: -distance(s, target), plots=False)
    assert summary.states == {"COMPLETE": 4, "INTERRUPTED": 2}
    assert summary.trials == 4


def test_another_config_in_the_same_out_is_refused(tiny_models, tmp_path):
    from modelfusion.errors import UserError

    search(weights_config(tiny_models, trials=1), tmp_path / "out", lambda s, split: 0.0, plots=False)
    with pytest.raises(UserError, match="another space"):
        search(weights_config(tiny_models, trials=1, sampler="tpe"), tmp_path / "out", lambda s, split: 0.0)
