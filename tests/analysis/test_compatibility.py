"""`inspect`: the compatibility report, from metadata only."""

from __future__ import annotations

import json

import pytest
import torch

from modelfusion.analysis.compatibility import inspect_models
from modelfusion.checkpoint import Checkpoint
from tests.analysis.fake_models import CONFIG, save_model


@pytest.fixture
def no_tensor_reads(monkeypatch):
    def forbidden(self, name):
        raise AssertionError(f"inspect read tensor data: {name}")

    monkeypatch.setattr(Checkpoint, "read", forbidden)


def _verdicts(report) -> dict:
    return {v.method: v for v in report.methods}


def test_same_architecture_merges(tiny_llamas, no_tensor_reads):
    report = inspect_models(tiny_llamas, base=tiny_llamas[0])
    verdicts = _verdicts(report)
    assert verdicts["linear"].applies and verdicts["task_arithmetic"].applies
    assert not verdicts["slerp"].applies and "exactly 1" in verdicts["slerp"].reasons[0]
    est = verdicts["linear"].estimate
    total = report.models[0].nbytes
    assert est["bytes_to_read"] == 3 * total and est["bytes_to_write"] == total
    assert est["peak_memory"] > 0 and est["threads"] >= 1
    assert "seconds" not in est  # no time is estimated (plan/summary.py says why)
    assert report.common_tensors == report.models[0].tensors and not report.only_in
    assert report.models[0].parameters == sum(p.numel() for p in _llama_params())
    assert "can be merged" in report.advice


def _llama_params():
    from tests.tiny_models import build_tiny_model

    return list(build_tiny_model("llama").state_dict().values())


def test_base_needed_when_missing(tiny_llamas, no_tensor_reads):
    verdicts = _verdicts(inspect_models(tiny_llamas[:2]))
    assert verdicts["ties"].reasons == ["needs a base model: pass --base MODEL"]
    assert verdicts["linear"].applies


def test_different_architectures_point_to_an_ensemble(tiny_llamas, tiny_berts, no_tensor_reads):
    report = inspect_models([tiny_llamas[0], tiny_berts[0]])
    assert not report.mergeable
    assert any("has no tensor" in r for r in _verdicts(report)["linear"].reasons)
    archs = next(values for key, values, differs in report.config if key == "architectures")
    assert archs == ['["LlamaForCausalLM"]', '["BertModel"]']
    assert "output-space ensemble" in report.advice
    assert report.only_in


def test_vocabulary_and_tokenizer_differences(tmp_path, no_tensor_reads):
    tensors = {"model.embed_tokens.weight": torch.zeros(3, 2), "model.layers.0.mlp.up_proj.weight": torch.zeros(2)}
    a = save_model(tmp_path / "a", tensors)
    b = save_model(tmp_path / "b", tensors)
    wide = save_model(
        tmp_path / "wide", {**tensors, "model.embed_tokens.weight": torch.zeros(4, 2)}, {**CONFIG, "vocab_size": 4}
    )
    (a / "tokenizer.json").write_text('{"v": 1}')
    (b / "tokenizer.json").write_text('{"v": 1}')
    report = inspect_models([a, b])
    assert report.tokenizer == [("tokenizer.json", ["same", "same"])]
    assert report.vocabulary == "same vocabulary size and identical tokenizer files"
    (b / "tokenizer.json").write_text('{"v": 2}')
    report = inspect_models([a, b])
    assert report.tokenizer == [("tokenizer.json", ["same", "differs"])]
    assert "tokenizer files differ" in report.vocabulary
    report = inspect_models([a, wide])
    assert report.tokenizer == [("tokenizer.json", ["same", "missing"])]
    assert report.vocabulary.startswith("vocabularies differ (a: 3 (embedding rows 3), wide: 4 (embedding rows 4))")
    assert report.shape_differences == [("model.embed_tokens.weight", ["[3, 2]", "[4, 2]"])]
    linear = _verdicts(report)["linear"]
    assert not linear.applies and any("vocabulary" in r or "shape [4, 2]" in r for r in linear.reasons)
    assert "token-level probability averaging needs one shared tokenizer" in report.advice
    json.dumps(report.as_dict())


def test_dtypes_are_counted(tmp_path, no_tensor_reads):
    a = save_model(tmp_path / "a", {"x.weight": torch.zeros(2), "y.ids": torch.zeros(2, dtype=torch.int64)})
    b = save_model(
        tmp_path / "b", {"x.weight": torch.zeros(2, dtype=torch.bfloat16), "y.ids": torch.zeros(2, dtype=torch.int64)}
    )
    report = inspect_models([a, b])
    assert report.models[0].dtypes == {"float32": 1, "int64": 1}
    assert report.models[1].dtypes == {"bfloat16": 1, "int64": 1}
    assert report.dtype_differences == [("x.weight", ["float32", "bfloat16"])]
    assert report.models[0].parameters == 2 and report.models[0].elements == 4
