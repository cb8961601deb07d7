"""Greedy soup: models ranked by their own validation score, each kept only if the soup improves."""

from __future__ import annotations

import csv

import yaml

from modelfusion import search

from .conftest import tiny_state
from .helpers import distance


def test_greedy_soup_keeps_only_improving_models(tiny_models, tmp_path):
    base, a = tiny_state(0), tiny_state(1)
    target = {k: base[k] + 0.05 * a[k] for k in base}  # the uniform soup of base and a
    config = {
        "merge_method": "linear",
        "models": [{"model": str(tiny_models[n])} for n in ("base", "a", "b")],
        "search": {"sampler": "greedy_soup"},
    }
    calls: list[str] = []

    def objective(state, split):
        calls.append(split)
        return -distance(state, target)

    out = tmp_path / "out"
    summary = search(config, out, objective, plots=False)
    assert summary.best_params["soup"] == [0, 1]
    assert summary.states == {"COMPLETE": 5}  # 3 alone, then {base, a} kept, {base, a, b} rejected
    assert abs(summary.best_value) < 1e-9
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert [m["model"] for m in best["models"]] == [str(tiny_models["base"]), str(tiny_models["a"])]
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [r["soup"] for r in rows][-2:] == ["[0, 1]", "[0, 1, 2]"]
    again = search(config, out, objective, plots=False)  # resumed: every soup is in the study already
    assert again.states == {"COMPLETE": 5}
    assert calls.count("validation") == 5
