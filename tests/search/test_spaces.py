"""Samplers and space shapes: grid, a method choice with conditional parameters, dict objectives, workers."""

from __future__ import annotations

import csv

from modelfusion import search

from .helpers import distance, weights_config


def test_grid_visits_every_point(tiny_models, tmp_path):
    config = weights_config(tiny_models, sampler="grid", trials=10)
    for m in config["models"]:
        m["parameters"]["weight"] = {"search": "uniform", "low": 0.0, "high": 1.0, "step": 0.5}
    summary = search(config, tmp_path / "out", lambda state: 0.0, plots=False)  # no `split`: called without
    rows = list(csv.DictReader((tmp_path / "out" / "trials.csv").open()))
    points = {(float(r["models.0.parameters.weight"]), float(r["models.1.parameters.weight"])) for r in rows}
    assert points == {(x, y) for x in (0.0, 0.5, 1.0) for y in (0.0, 0.5, 1.0)}
    assert summary.trials == 9  # the grid is exhausted before `trials`


def test_method_choice_drops_parameters_the_method_does_not_take(tiny_models, target, tmp_path):
    config = weights_config(tiny_models, trials=6)
    config["merge_method"] = {"search": "choice", "values": ["task_arithmetic", "linear"]}
    config["parameters"] = {"lambda": {"search": "uniform", "low": 0.5, "high": 1.5}}
    summary = search(
        config,
        tmp_path / "out",
        lambda s, split: {"dist": distance(s, target), "one": 1.0},
        metric="dist",
        direction="minimize",
        plots=False,
    )
    assert summary.states == {"COMPLETE": 6}
    rows = list(csv.DictReader((tmp_path / "out" / "trials.csv").open()))
    assert {r["merge_method"] for r in rows} == {"task_arithmetic", "linear"}
    for r in rows:
        assert (r["parameters.lambda"] != "") == (r["merge_method"] == "task_arithmetic")
        assert float(r["score_one"]) == 1.0 and float(r["score_dist"]) == float(r["value"])
    assert summary.test_scores["one"] == 1.0


def test_two_workers_run_every_trial(tiny_models, target, tmp_path):
    summary = search(
        weights_config(tiny_models, trials=4, workers=2),
        tmp_path / "out",
        lambda s, split: -distance(s, target),
        plots=False,
    )
    assert summary.states == {"COMPLETE": 4}
