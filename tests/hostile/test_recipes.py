"""Hostile recipes (not a mapping, wrong types, huge, alias bombs): one clear error, exit 2, fast."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.hostile.conftest import assert_clean_failure, run_cli, untouched
from tests.hostile.make_cases import BAD_RECIPES, good_model

EXPECTED = {
    "a list, not a mapping": "must be a YAML mapping",
    "a scalar, not a mapping": "must be a YAML mapping",
    "models is a number": "models",
    "weight is a string": "weight",
    "merge_method is a list": "merge_method",
    "layer_range of strings": "layer_range",
    "unknown key": "did you mean 'models'",
    "invalid YAML": "invalid YAML (line 3)",
    "empty": "empty",
    "alias bomb": "alias",
    "recursive alias": "alias",
    "deeply nested": "nested",
    "huge": "larger than",
    "binary": "invalid YAML",
}


def test_every_case_has_an_expectation() -> None:
    assert set(EXPECTED) == set(BAD_RECIPES)


@pytest.mark.parametrize("case", list(BAD_RECIPES))
def test_bad_recipe_is_refused_cleanly(case: str, tmp_path: Path) -> None:
    good_model(tmp_path / "m0")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(BAD_RECIPES[case], encoding="utf-8")
    out = tmp_path / "out"
    start = time.perf_counter()
    with untouched(tmp_path / "m0"):
        result = run_cli("merge", recipe, out, "-q")
    assert time.perf_counter() - start < 20, "hostile recipe took too long to refuse"
    assert_clean_failure(result, out, EXPECTED[case], "recipe.yaml")


def test_weights_summing_to_zero_is_a_recipe_error(tmp_path: Path) -> None:
    """A method that cannot use its parameters (linear with weights 1 and -1): exit 2, names method and tensor."""
    a, b = good_model(tmp_path / "a", seed=0), good_model(tmp_path / "b", seed=1)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"merge_method: linear\nmodels:\n  - model: {a}\n    parameters: {{weight: 1.0}}\n"
        f"  - model: {b}\n    parameters: {{weight: -1.0}}\n"
    )
    out = tmp_path / "out"
    with untouched(a, b):
        result = run_cli("merge", recipe, out, "-q")
    assert_clean_failure(result, out, "method 'linear' cannot merge tensor", "sum to zero")
