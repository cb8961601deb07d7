"""ONNX: a tiny MLP built with onnx.helper; merged initializers, the base's graph; checked by onnx.checker and run
in onnxruntime against the same merge computed in torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from modelfusion.checkpoint import open_checkpoint  # noqa: E402
from modelfusion.errors import CheckpointError  # noqa: E402
from tests.checkpoint_formats.helpers import assert_clean_failure, merge_cli, run_cli, weighted_recipe  # noqa: E402


def _weights(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = {"w1": (4, 8), "b1": (8,), "w2": (8, 3), "b2": (3,)}
    return {k: rng.normal(size=s).astype("float32") for k, s in shapes.items()}


def _mlp(path: Path, seed: int, act: str = "Relu") -> Path:
    w = _weights(seed)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node(act, ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["h3"]),
        helper.make_node("Add", ["h3", "b2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        f"mlp{seed}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])],
        initializer=[numpy_helper.from_array(v, k) for k, v in w.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="test")
    helper.set_model_props(model, {"owner": f"seed{seed}"})
    onnx.save(model, str(path))
    return path


def test_onnx_merge_runs_in_onnxruntime_like_torch(tmp_path: Path) -> None:
    a, b = _mlp(tmp_path / "a.onnx", 1), _mlp(tmp_path / "b.onnx", 2)
    out = tmp_path / "out"
    merge_cli(weighted_recipe(tmp_path, [a, b], [0.25, 0.75], base=a), out)
    merged = out / "model.onnx"
    onnx.checker.check_model(str(merged), full_check=True)
    model = onnx.load(str(merged))
    assert model.metadata_props[0].value == "seed1" and model.graph.name == "mlp1"  # the base's graph and metadata
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    (got,) = ort.InferenceSession(str(merged), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    wa, wb = _weights(1), _weights(2)
    t = {k: 0.25 * torch.from_numpy(wa[k]) + 0.75 * torch.from_numpy(wb[k]) for k in wa}
    want = torch.relu(torch.from_numpy(x) @ t["w1"] + t["b1"]) @ t["w2"] + t["b2"]
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-5)


def test_different_graphs_are_a_plan_error_naming_both(tmp_path: Path) -> None:
    a, b = _mlp(tmp_path / "a.onnx", 1), _mlp(tmp_path / "b.onnx", 2, act="Sigmoid")
    out = tmp_path / "out"
    result = run_cli("merge", weighted_recipe(tmp_path, [a, b], [0.5, 0.5]), out, "-q")
    assert_clean_failure(result, out, "a.onnx", "b.onnx", "onnx graph")


def test_external_data_outside_the_folder_is_refused(tmp_path: Path) -> None:
    path = _mlp(tmp_path / "m.onnx", 1)
    model = onnx.load(str(path))
    init = model.graph.initializer[0]
    init.ClearField("raw_data")
    init.ClearField("float_data")
    init.data_location = TensorProto.EXTERNAL
    init.external_data.add(key="location", value="../../etc/passwd")
    evil = tmp_path / "evil.onnx"
    evil.write_bytes(model.SerializeToString())
    with pytest.raises(CheckpointError, match="outside the model's folder") as err:
        open_checkpoint(evil)
    assert err.value.where == str(evil)


def test_truncated_onnx_is_one_error(tmp_path: Path) -> None:
    path = _mlp(tmp_path / "m.onnx", 1)
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(path.read_bytes()[:150])
    with pytest.raises(CheckpointError) as err:
        open_checkpoint(cut)
    assert err.value.where == str(cut)
