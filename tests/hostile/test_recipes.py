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
