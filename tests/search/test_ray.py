"""Trials on Ray (a local instance, 2 CPUs): the same seeded random trials as in one process, the objective file
and the inputs shipped once per actor, failures recorded."""

from __future__ import annotations

import csv
import warnings

import pytest
import yaml

from modelfusion import search

from .helpers import weights_config

ray = pytest.importorskip("ray")

OBJECTIVE = """
import os, pathlib
imports = pathlib.Path(__file__).parent / "imports"
imports.mkdir(exist_ok=True)
(imports / f"{os.getpid()}-{id(object())}").touch()  # one file per import of this file

def score(state, split):
    s = float(state["model.layers.0.mlp.weight"].sum() - 0.5 * state["model.layers.1.mlp.weight"].sum())
    if s > 1e9:
        raise ValueError("unreachable")
    return s

def flaky(state, split):
    w = float(state["model.layers.2.mlp.weight"].sum())
    if split == "validation" and int(abs(w) * 1000) % 2:
        raise RuntimeError("odd")
    return -abs(w)
"""


@pytest.fixture(scope="module")
def ray_cluster():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # a notice about accelerator variables
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _config(tmp_path, tiny_models, fn: str, trials: int) -> str:
    (tmp_path / "obj.py").write_text(OBJECTIVE)
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(weights_config(tiny_models, trials=trials, objective={"python": f"obj.py:{fn}"})))
    return str(path)


def _rows(out) -> list[dict]:
    return list(csv.DictReader((out / "trials.csv").open()))


def test_ray_local_runs_the_same_seeded_trials_as_one_process(ray_cluster, tiny_models, tmp_path):
    imports = tmp_path / "imports"
    config = _config(tmp_path, tiny_models, "score", trials=6)
    here = search(config, tmp_path / "here", plots=False)
    n_here = len(list(imports.iterdir()))
    on_ray = search(config, tmp_path / "ray", plots=False, ray="local", workers=2)

    assert on_ray.states == here.states == {"COMPLETE": 6}
    keep = ("number", "state", "value", "models.0.parameters.weight", "models.1.parameters.weight")
    assert [{k: r[k] for k in keep} for r in _rows(tmp_path / "ray")] == [
        {k: r[k] for k in keep} for r in _rows(tmp_path / "here")
    ]
    assert (on_ray.best_number, on_ray.best_value, on_ray.test_value) == (
        here.best_number,
        here.best_value,
        here.test_value,
    )
    # the objective file ran once here, once more for the driver of the Ray search, once per actor: not per trial
    assert n_here == 1
    assert len(list(imports.iterdir())) == n_here + 1 + 2


def test_ray_failures_are_recorded_and_the_search_goes_on(ray_cluster, tiny_models, tmp_path):
    config = _config(tmp_path, tiny_models, "flaky", trials=5)
    summary = search(config, tmp_path / "out", plots=False, ray="local", workers=2)
    rows = _rows(tmp_path / "out")
    assert len(rows) == 5 and summary.trials == 5
    failed = [r for r in rows if r["state"] == "FAIL"]
    assert failed and all(r["error"] == "RuntimeError: odd" for r in failed)
    assert summary.states.get("COMPLETE", 0) == 5 - len(failed)
