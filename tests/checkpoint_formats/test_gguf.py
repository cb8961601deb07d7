"""GGUF: files made with gguf's own writer (F32, F16, BF16, Q8_0 tensors), merged and read back by GGUFReader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

gguf = pytest.importorskip("gguf")

from gguf.quants import dequantize, quantize  # noqa: E402

from modelfusion.checkpoint import open_checkpoint  # noqa: E402
from modelfusion.errors import CheckpointError  # noqa: E402
from tests.checkpoint_formats.helpers import assert_clean_failure, merge_cli, run_cli, weighted_recipe  # noqa: E402

Q = gguf.GGMLQuantizationType
TYPES = {"token_embd.weight": Q.F16, "blk.0.attn_q.weight": Q.Q8_0, "blk.0.ffn_up.weight": Q.BF16, "norm": Q.F32}


def _arrays(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = {"token_embd.weight": (8, 64), "blk.0.attn_q.weight": (4, 64), "blk.0.ffn_up.weight": (6, 32)}
    out = {k: rng.normal(size=s).astype("float32") for k, s in shapes.items()}
    out["norm"] = rng.normal(size=(64,)).astype("float32")
    return out


def _make(path: Path, seed: int, arch: str = "llama", tokens: tuple[str, ...] = ("<s>", "a", "b")) -> Path:
    w = gguf.GGUFWriter(path, arch=arch)
    w.add_name(f"tiny{seed}")
    w.add_block_count(1)
    w.add_tokenizer_model("llama")
    w.add_token_list(list(tokens))
    for name, array in _arrays(seed).items():
        qtype = TYPES[name]
        if qtype in (Q.F32, Q.F16):
            w.add_tensor(name, array.astype(np.float16 if qtype == Q.F16 else np.float32))
        else:
            w.add_tensor(name, quantize(array, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def _stored(seed: int) -> dict[str, np.ndarray]:
    """What the file holds, as float32 (after its own rounding or quantization)."""
    return {k: dequantize(quantize(v, TYPES[k]), TYPES[k]).reshape(v.shape) for k, v in _arrays(seed).items()}


def test_gguf_merge_keeps_types_and_metadata(tmp_path: Path) -> None:
    a, b = _make(tmp_path / "a.gguf", 1), _make(tmp_path / "b.gguf", 2)
    with open_checkpoint(a) as ckpt:
        assert ckpt.infos["blk.0.attn_q.weight"].shape == (4, 64)
        assert ckpt.infos["blk.0.attn_q.weight"].dtype == torch.float32  # Q8_0, dequantized
        assert ckpt.infos["blk.0.ffn_up.weight"].dtype == torch.bfloat16
    out = tmp_path / "out"
    merge_cli(weighted_recipe(tmp_path, [a, b], [0.25, 0.75], base=a), out)
    reader = gguf.GGUFReader(out / "model.gguf")
    assert reader.fields["general.name"].contents() == "tiny1"
    assert reader.fields["general.architecture"].contents() == "llama"
    assert reader.fields["tokenizer.ggml.tokens"].contents() == ["<s>", "a", "b"]
    sa, sb = _stored(1), _stored(2)
    for t in reader.tensors:
        assert t.tensor_type == TYPES[t.name], t.name
        got = dequantize(t.data, t.tensor_type).reshape(sa[t.name].shape)
        want = 0.25 * sa[t.name] + 0.75 * sb[t.name]
        stored_want = dequantize(quantize(want, TYPES[t.name]), TYPES[t.name]).reshape(want.shape)
        tol = 0.05 if TYPES[t.name] == Q.Q8_0 else 0.02
        np.testing.assert_allclose(got, stored_want, rtol=0, atol=tol)


def test_different_architecture_or_tokenizer_is_a_plan_error(tmp_path: Path) -> None:
    a = _make(tmp_path / "a.gguf", 1)
    b = _make(tmp_path / "b.gguf", 2, arch="qwen2")
    c = _make(tmp_path / "c.gguf", 3, tokens=("<s>", "x", "y"))
    out = tmp_path / "out"
    result = run_cli("merge", weighted_recipe(tmp_path, [a, b], [0.5, 0.5]), out, "-q")
    assert_clean_failure(result, out, "a.gguf", "b.gguf", "GGUF architecture")
    result = run_cli("merge", weighted_recipe(tmp_path, [a, c], [0.5, 0.5]), out, "-q")
    assert_clean_failure(result, out, "tokenizer.ggml.tokens")


def test_truncated_gguf_is_one_error(tmp_path: Path) -> None:
    a = _make(tmp_path / "a.gguf", 1)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(a.read_bytes()[:200])
    with pytest.raises(CheckpointError) as err:
        open_checkpoint(cut)
    assert err.value.where == str(cut)
