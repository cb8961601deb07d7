"""`modelfusion inspect` and `compare` on lone files of each format (structured .pth, RVC .pth, .weights.h5, .keras,
.onnx, .gguf): the report names the format, linear applies, compare writes its report; models a merge would
refuse (different ONNX graphs, RVC sample rates) are refused by both, naming both files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("gguf")
pytest.importorskip("h5py")
onnx = pytest.importorskip("onnx")

from tests.checkpoint_formats.helpers import run_cli  # noqa: E402
from tests.hostile.format_cases import GOOD_FORMATS, rvc_root  # noqa: E402

SUFFIX = {"gguf": ".gguf", "weights.h5": ".weights.h5", "keras": ".keras", "onnx": ".onnx"} | {
    "pth": ".pth",
    "rvc": ".pth",
}
ARCHITECTURE = {
    "gguf": "GGUF (llama)",
    "weights.h5": "Keras weights",
    "keras": "Keras weights",
    "onnx": "ONNX graph",
    "pth": "PyTorch checkpoint",
    "rvc": "RVC v2 voice model (40k, f0=1)",
}


def _pair(fmt: str, folder: Path) -> tuple[Path, Path]:
    build = GOOD_FORMATS[fmt]
    return build(folder, seed=0, name="a" + SUFFIX[fmt]), build(folder, seed=1, name="b" + SUFFIX[fmt])


@pytest.mark.parametrize("fmt", list(GOOD_FORMATS))
def test_inspect_and_compare_work_on_each_format(fmt: str, tmp_path: Path) -> None:
    a, b = _pair(fmt, tmp_path / "m")
    result = run_cli("inspect", a, b, "--base", a, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [m["architecture"] for m in report["models"]] == [ARCHITECTURE[fmt]] * 2
    verdicts = {v["method"]: v for v in report["methods"]}
    assert verdicts["linear"]["applies"] and verdicts["task_arithmetic"]["applies"], verdicts["linear"]
    out = tmp_path / "report"
    result = run_cli("compare", b, "--base", a, "-q", "--no-plots", "-o", out)
    assert result.exit_code == 0, result.output
    text = (out / "report.md").read_text()
    assert "b" + SUFFIX[fmt] in text and "‖τ‖" in text


def test_inspect_and_compare_refuse_what_merge_refuses(tmp_path: Path) -> None:
    a, b = _pair("onnx", tmp_path / "m")
    model = onnx.load(str(b))
    model.graph.node[1].op_type = "Sub"
    other = tmp_path / "m" / "sub.onnx"
    onnx.save(model, str(other))
    result = run_cli("inspect", a, other, "--json")
    assert result.exit_code == 0, result.output
    linear = next(v for v in json.loads(result.output)["methods"] if v["method"] == "linear")
    assert not linear["applies"] and "different onnx graph" in " ".join(linear["reasons"])
    result = run_cli("compare", other, "--base", a, "-q", "--no-plots", "-o", tmp_path / "r")
    assert result.exit_code == 2 and result.output.startswith("error:"), result.output
    assert "different onnx graph" in result.output and "sub.onnx" in result.output
    assert not (tmp_path / "r").exists()


def test_inspect_rvc_with_different_speaker_counts_applies(tmp_path: Path) -> None:
    a = GOOD_FORMATS["rvc"](tmp_path, seed=0, name="a.pth")
    b = tmp_path / "b.pth"
    torch.save(rvc_root(1, speakers=2), b)
    result = run_cli("inspect", a, b, "--json")
    assert result.exit_code == 0, result.output
    linear = next(v for v in json.loads(result.output)["methods"] if v["method"] == "linear")
    assert linear["applies"], linear
