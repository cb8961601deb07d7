"""Fuzzing: hypothesis-generated safetensors files and recipes give a validated UserError or succeed, never a
traceback (any other exception type fails the test)."""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelfusion.checkpoint.dtypes import SAFETENSORS_TO_TORCH
from modelfusion.checkpoint.safetensors_file import SafetensorsFile
from modelfusion.errors import CheckpointError, UserError
from modelfusion.recipe import load_recipe_text
from tests.conftest import snapshot
from tests.hostile.make_cases import good_model

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))

json_scalar = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=6)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
dtype_names = st.sampled_from([*SAFETENSORS_TO_TORCH, "F33", "", "f32", "U64", "C64"]) | json_scalar
dims = st.integers(-2, 6) | st.booleans() | st.floats(-1, 4) | st.text(max_size=2)
entry = (
    st.fixed_dictionaries(
        {},
        optional={
            "dtype": dtype_names,
            "shape": st.lists(dims, max_size=3) | json_value,
            "data_offsets": st.lists(st.integers(-4, 300), max_size=3) | json_value,
        },
    )
    | json_value
)
header = st.dictionaries(st.text(max_size=6), entry, max_size=5)


def _open_and_read_all(path: Path) -> None:
    f = SafetensorsFile(path)
    try:
        for name, info in f.infos.items():
            t = f.read(name)
            assert tuple(t.shape) == info.shape and t.dtype == info.dtype
    finally:
        f.close()


@FUZZ
@given(header=header, data=st.binary(max_size=300), pad=st.integers(0, 7))
def test_fuzzed_headers_give_checkpoint_errors(header: dict, data: bytes, pad: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.safetensors"
        raw = json.dumps(header).encode() + b" " * pad
        path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
        try:
            _open_and_read_all(path)
        except CheckpointError as e:
            assert str(path) in str(e)


@FUZZ
@given(length=st.integers(0, 2**64 - 1) | st.integers(0, 64), body=st.binary(max_size=200))
def test_fuzzed_raw_bytes_give_checkpoint_errors(length: int, body: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.safetensors"
        path.write_bytes(struct.pack("<Q", length) + body)
        try:
            _open_and_read_all(path)
        except CheckpointError:
            pass


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory) -> bytes:
    folder = good_model(tmp_path_factory.mktemp("fuzz_st") / "m", seed=0, layers=1, hidden=4, vocab=4)
    return (folder / "model.safetensors").read_bytes()


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=4), cut=st.integers(0, 10**6))
def test_mutated_valid_file_gives_checkpoint_errors(valid_file: bytes, flips, cut: int) -> None:
    blob = bytearray(valid_file)
    for pos, mask in flips:
        blob[pos % len(blob)] ^= mask
    blob = blob[: max(0, len(blob) - cut % 64)] if cut % 3 == 0 else blob
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.safetensors"
        path.write_bytes(bytes(blob))
        try:
            _open_and_read_all(path)
        except CheckpointError:
            pass


# -- recipes -----------------------------------------------------------------------------------------------------------
METHODS = [
    "linear",
    "slerp",
    "task_arithmetic",
    "ties",
    "dare_ties",
    "dare_linear",
    "della",
    "breadcrumbs",
    "model_stock",
    "nuslerp",
    "karcher",
    "passthrough",
    "sce",
    "nearswap",
    "multislerp",
    "no_such_method",
]
KEYS = [
    "merge_method",
    "base_model",
    "models",
    "slices",
    "parameters",
    "dtype",
    "out_dtype",
    "tokenizer_source",
    "tokenizer",
    "chat_template",
    "name",
    "bogus",
]


@pytest.fixture(scope="module")
def fuzz_models(tmp_path_factory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("fuzz_recipes")
    names = []
    for i in range(3):
        good_model(root / f"m{i}", seed=i, layers=2, hidden=8, vocab=8)
        names.append(str(root / f"m{i}"))
    return root, names


def recipes(model_names: list[str]):
    """Mostly schema-valid recipes (so the planner and engine are reached) with hostile values inside."""
    model = st.sampled_from(model_names) | st.sampled_from(["", "nope", "../m0"])
    number = st.floats(-2, 2) | st.integers(-3, 3) | st.sampled_from([float("nan"), float("inf"), 1e308])
    param_value = (
        number
        | st.lists(number, max_size=4)
        | st.lists(st.fixed_dictionaries({"value": number}, optional={"filter": st.text(max_size=6)}), max_size=3)
        | st.sampled_from([True, "x", None, [], {}])
    )
    params = st.dictionaries(
        st.sampled_from(["weight", "density", "t", "epsilon", "lambda", "normalize", "int8_mask", "select_topk", "x"]),
        param_value,
        max_size=3,
    )
    in_model = st.fixed_dictionaries({"model": model}, optional={"parameters": params})
    layer_range = st.lists(st.integers(-1, 4), min_size=2, max_size=2) | st.lists(st.integers(0, 3), max_size=3)
    source = st.fixed_dictionaries({"model": model, "layer_range": layer_range}, optional={"parameters": params})
    slice_ = st.fixed_dictionaries(
        {"sources": st.lists(source, min_size=1, max_size=3)}, optional={"base_model": model, "parameters": params}
    )
    common = {
        "base_model": model,
        "parameters": params,
        "dtype": st.sampled_from(["float32", "bfloat16", "float16", "int8", "fp64"]),
        "out_dtype": st.sampled_from(["float32", "bfloat16", "nope"]),
    }
    with_models = st.fixed_dictionaries(
        {"merge_method": st.sampled_from(METHODS), "models": st.lists(in_model, min_size=1, max_size=4)},
        optional=common,
    )
    with_slices = st.fixed_dictionaries(
        {"merge_method": st.sampled_from(METHODS), "slices": st.lists(slice_, min_size=1, max_size=3)},
        optional=common,
    )
    return with_models | with_slices


@FUZZ
@given(recipe=st.dictionaries(st.sampled_from(KEYS), json_value, max_size=4) | json_value)
def test_fuzzed_recipe_shapes_give_recipe_errors(recipe) -> None:
    import yaml

    try:
        load_recipe_text(yaml.safe_dump(recipe))
    except UserError:
        pass


@FUZZ
@given(data=st.data())
def test_fuzzed_recipes_give_user_errors(fuzz_models, data, tmp_path_factory) -> None:
    from modelfusion import merge

    root, names = fuzz_models
    before = snapshot(root)
    recipe = data.draw(recipes(names))
    with tempfile.TemporaryDirectory() as d:
        try:
            merge(recipe, Path(d) / "out", dry_run=True)
            merge(recipe, Path(d) / "out", threads=2)  # planned: the engine must cope too
        except UserError:
            pass
    assert snapshot(root) == before


@FUZZ
@given(text=st.text(max_size=300))
def test_fuzzed_yaml_text_gives_recipe_errors(text: str) -> None:
    try:
        load_recipe_text(text)
    except UserError:
        pass


def test_fuzzed_recipe_that_plans_also_merges(fuzz_models, tmp_path: Path) -> None:
    """Control: the recipe strategy reaches real merges (not only errors)."""
    from modelfusion import merge

    _, names = fuzz_models
    recipe = {"merge_method": "linear", "models": [{"model": n, "parameters": {"weight": 1.0}} for n in names[:2]]}
    merge(recipe, tmp_path / "out")
    assert torch.load is not None and (tmp_path / "out" / "model.safetensors").is_file()
