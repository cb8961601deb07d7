"""Bad configs are refused with one line naming the file, before any trial (OUT is not even created)."""

from __future__ import annotations

import pytest
import yaml

from modelfusion import search
from modelfusion.errors import UserError
from modelfusion.recipe_search.config import load_search_config
from modelfusion.recipe_search.space import find_ranges

from .helpers import weights_config


def never(state, split):
    raise AssertionError("no trial may run for a bad config")


def test_ranges_found_everywhere_a_parameter_value_may_be():
    template = {
        "merge_method": {"search": "choice", "values": ["ties", "dare_ties"]},
        "parameters": {
            "density": [{"filter": "mlp", "value": {"search": "uniform", "low": 0.1, "high": 0.9}}, {"value": 0.5}],
            "lambda": [1.0, {"search": "log_uniform", "low": 0.01, "high": 2.0}],
        },
        "models": [{"model": "a", "parameters": {"weight": {"search": "int", "low": 1, "high": 3}}}],
    }
    names = [r.name for r in find_ranges(template)]
    assert names[0] == "merge_method"
    expected = {"merge_method", "parameters.density.0.value", "parameters.lambda.1", "models.0.parameters.weight"}
    assert set(names) == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["models"][0]["parameters"]["weight"].update(low=2.0), "low (2.0) is greater than high (1.0)"),
        (lambda c: c["search"].update(sampler="anneal"), "unknown sampler 'anneal'"),
        (lambda c: c["models"][0]["parameters"]["weight"].update(search="normal"), "unknown range kind"),
        (lambda c: c["search"].update(sampler="grid"), "grid sampler needs a 'step'"),
        (
            lambda c: c["search"].update(objective={"python": "missing.py:objective"}),
            "objective.python: file 'missing.py' not found",
        ),
        (lambda c: c["models"][0]["parameters"].update(t={"search": "uniform", "low": 0, "high": 1}), "does not take"),
        (lambda c: c["models"][0].update(model="nowhere"), "model 'nowhere' not found"),
        (lambda c: c["search"].update(trials=0), "search.trials"),
        (lambda c: c.update(merge_method="tiess"), "unknown merge method 'tiess'"),
    ],
)
def test_bad_config_exits_before_any_trial(tiny_models, tmp_path, change, message):
    config = weights_config(tiny_models)
    change(config)
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(config))
    objective = None if "objective" in config["search"] else never
    with pytest.raises(UserError) as e:
        search(path, tmp_path / "out", objective)
    assert message in str(e.value)
    assert str(path) in str(e.value)
    assert not (tmp_path / "out").exists()


def test_objective_function_missing_is_named(tiny_models, tmp_path):
    (tmp_path / "obj.py").write_text("def other(state, split):\n    return 0.0\n")
    config = weights_config(tiny_models, objective={"python": "obj.py:score"})
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(UserError, match="has no function 'score'"):
        search(path, tmp_path / "out")


def test_overrides_replace_search_keys(tiny_models):
    cfg = load_search_config(weights_config(tiny_models), trials=9, workers=2)
    assert (cfg.settings.trials, cfg.settings.workers, cfg.settings.sampler) == (9, 2, "random")
