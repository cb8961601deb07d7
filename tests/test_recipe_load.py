"""Loading recipes: mergekit's schema, strict keys with line numbers and did-you-mean, every problem at once."""

from __future__ import annotations

import re

import pytest

from modelfusion.errors import RecipeError
from modelfusion.recipe import load_recipe, load_recipe_text, parse_recipe
from modelfusion.recipe.schema import FilterEntry

CANONICAL_SLERP = """\
slices:
  - sources:
      - model: a
        layer_range: [0, 4]
      - model: b
        layer_range: [0, 4]
merge_method: slerp
base_model: a
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5
dtype: bfloat16
"""


def test_canonical_mergekit_slerp_recipe_parses():
    (stage,) = load_recipe_text(CANONICAL_SLERP)
    r = stage.recipe
    assert r.merge_method == "slerp" and r.base_model == "a" and r.dtype == "bfloat16"
    assert [s.model for s in r.slices[0].sources] == ["a", "b"]
    assert r.slices[0].sources[1].layer_range == (0, 4)
    t = r.parameters["t"]
    assert [e.filter for e in t] == ["self_attn", "mlp", None]
    assert all(isinstance(e, FilterEntry) for e in t)
    assert t[0].value == [0, 0.5, 0.3, 0.7, 1]
    assert r.model_paths() == ["a", "b"]


def test_models_form_with_per_model_parameters():
    text = (
        "merge_method: linear\nmodels:\n  - model: x\n    parameters: {weight: 0.3}\n  - model: y\nout_dtype: float16\n"
    )
    (stage,) = load_recipe_text(text)
    assert stage.recipe.models[0].parameters == {"weight": 0.3}
    assert stage.recipe.models[1].parameters is None
    assert stage.recipe.out_dtype == "float16"
    assert stage.text == text


def test_several_unknown_keys_reported_together_with_lines_and_did_you_mean(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "merge_method: linear\n"  # 1
        "modles:\n"  # 2
        "  - model: a\n"  # 3
        "base_modle: x\n"  # 4
        "models:\n"  # 5
        "  - model: a\n"  # 6
        "    paramters: {weight: 1}\n"  # 7
        "dtyp: float32\n"  # 8
    )
    with pytest.raises(RecipeError) as exc:
        load_recipe(path)
    msg = str(exc.value)
    assert msg.startswith(str(path))
    assert "line 2: unknown key 'modles' (did you mean 'models'?)" in msg
    assert "line 4: unknown key 'base_modle' (did you mean 'base_model'?)" in msg
    assert "line 7: unknown key 'models.0.paramters' (did you mean 'parameters'?)" in msg
    assert "line 8: unknown key 'dtyp' (did you mean 'dtype'?)" in msg
    assert "\n" not in msg


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("merge_method: linear\nmodels:\n  - model: [a\n")
    with pytest.raises(RecipeError, match=r"invalid YAML \(line \d+\)"):
        load_recipe(path)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("merge_method: linear\n", "exactly one of 'models' and 'slices'"),
        ("merge_method: linear\nmodels: []\nslices: []\n", "exactly one of 'models' and 'slices'"),
        ("models:\n  - model: a\n", "missing required key 'merge_method'"),
        (
            "merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: [3, 1]\n",
            re.escape("layer_range [3, 1] must be [start, end)"),
        ),
        ("- just\n- a list\n", "must be a YAML mapping"),
    ],
)
def test_malformed_recipes_are_recipe_errors(text, pattern):
    with pytest.raises(RecipeError, match=pattern):
        load_recipe_text(text)


def test_missing_recipe_file_is_named(tmp_path):
    with pytest.raises(RecipeError, match="no such recipe file"):
        load_recipe(tmp_path / "nope.yaml")


@pytest.mark.parametrize("value", ["[[1, 2]]", "[1, a]", "{a: 1}", "[{filter: mlp, value: {x: 1}}]"])
def test_a_parameter_of_no_known_form_is_one_clear_problem(value):
    text = f"merge_method: linear\nmodels:\n  - model: a\nparameters:\n  weight: {value}\n  normalize: true\n"
    with pytest.raises(RecipeError) as exc:
        load_recipe_text(text)
    msg = str(exc.value)
    assert msg.count("parameters.weight") == 1
    assert "line 5: parameters.weight: must be a number, true/false, a list of numbers (a gradient) or a filter" in msg
    assert "Input should be" not in msg


def test_typo_inside_a_filter_entry_is_an_unknown_key():
    text = "merge_method: linear\nmodels:\n  - model: a\nparameters:\n  weight:\n    - filtr: mlp\n      value: 1\n"
    with pytest.raises(RecipeError) as exc:
        load_recipe_text(text)
    assert str(exc.value) == "recipe: line 6: unknown key 'parameters.weight.0.filtr' (did you mean 'filter'?)"


def test_unknown_key_that_looks_like_a_type_name_is_reported():
    # regression (found by hypothesis): keys such as '[' or 'list[x]' were taken for pydantic union tags
    with pytest.raises(RecipeError, match=r"unknown key '\['"):
        parse_recipe({"merge_method": "linear", "models": [{"model": "a"}], "[": None})
    with pytest.raises(RecipeError, match=r"unknown key 'list\[x\]'"):
        parse_recipe({"merge_method": "linear", "models": [{"model": "a"}], "list[x]": 1})
