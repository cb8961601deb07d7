"""RVC v2 voice models (.pth as RVC WebUI saves them). The fixtures are built from the documented layout
(`{"weight": {...fp16 tensors}, "config": [...], "info", "sr", "f0", "version"}`) with a few synthesizer-shaped
tensors, not by RVC itself (no RVC package installs here with this torch)."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.checkpoint_formats.helpers import assert_clean_failure, merge_cli, run_cli, weighted_recipe

# RVC v2 40k config: spec_channels .. upsample_kernel_sizes, spk_embed_dim, gin_channels, sr
CONFIG_40K = [
    1025,
    32,
    192,
    192,
    768,
    2,
    6,
    3,
    0,
    "1",
    [3, 7, 11],
    [[1, 3, 5]] * 3,
    [10, 10, 2, 2],
    512,
    [16, 16, 4, 4],
]


def _voice(path: Path, seed: int, sr: str = "40k", f0: int = 1, speakers: int = 109) -> Path:
    g = torch.Generator().manual_seed(seed)
    weight = {
        "enc_p.emb_phone.weight": torch.randn(192, 768, generator=g).half(),
        "dec.conv_pre.weight": torch.randn(512, 192, 7, generator=g).half(),
        "flow.flows.0.enc.in_layers.0.bias": torch.randn(384, generator=g).half(),
        "emb_g.weight": torch.randn(speakers, 256, generator=g).half(),
    }
    config = [*CONFIG_40K, speakers, 256, int(sr[:-1]) * 1000]
    torch.save({"weight": weight, "config": config, "info": f"{seed}epoch", "sr": sr, "f0": f0, "version": "v2"}, path)
    return path


def test_rvc_merge_keeps_rvc_keys_and_types(tmp_path: Path) -> None:
    a, b = _voice(tmp_path / "singer_a.pth", 1), _voice(tmp_path / "singer_b.pth", 2)
    out = tmp_path / "out"
    merge_cli(weighted_recipe(tmp_path, [a, b], [0.4, 0.6], base=a), out)
    merged = torch.load(out / "model.pth", weights_only=True)
    src_a, src_b = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    assert list(merged) == ["weight", "config", "info", "sr", "f0", "version"]
    assert (merged["config"], merged["sr"], merged["f0"], merged["version"]) == (src_a["config"], "40k", 1, "v2")
    for name, t in merged["weight"].items():
        assert t.dtype == torch.float16
        want = (0.4 * src_a["weight"][name].float() + 0.6 * src_b["weight"][name].float()).half()
        torch.testing.assert_close(t, want, rtol=0, atol=2e-3)


def test_different_sample_rate_or_f0_is_a_plan_error_naming_both(tmp_path: Path) -> None:
    a = _voice(tmp_path / "a.pth", 1)
    b = _voice(tmp_path / "b48.pth", 2, sr="48k", f0=0)
    out = tmp_path / "out"
    result = run_cli("merge", weighted_recipe(tmp_path, [a, b], [0.5, 0.5]), out, "-q")
    assert_clean_failure(result, out, "a.pth", "b48.pth", "RVC sr", "RVC f0")


def test_different_speaker_counts_truncate_emb_g_as_rvc_does(tmp_path: Path) -> None:
    """RVC WebUI's ckpt merge keeps the first min(n_a, n_b) rows of emb_g.weight; so do we, with a plan warning,
    a note in the model card, and config[-3] (spk_embed_dim) set to the kept count so RVC builds emb_g of that size."""
    a, b = _voice(tmp_path / "a.pth", 1), _voice(tmp_path / "b.pth", 2, speakers=4)
    out = tmp_path / "out"
    result = merge_cli(weighted_recipe(tmp_path, [a, b], [0.5, 0.5], base=a), out)
    assert "truncated" in result.output and "emb_g.weight" in result.output
    merged = torch.load(out / "model.pth", weights_only=True)
    src_a, src_b = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    emb = merged["weight"]["emb_g.weight"]
    assert emb.shape == (4, 256) and emb.dtype == torch.float16
    want = (0.5 * src_a["weight"]["emb_g.weight"][:4].float() + 0.5 * src_b["weight"]["emb_g.weight"].float()).half()
    torch.testing.assert_close(emb, want, rtol=0, atol=2e-3)
    assert merged["config"][-3] == 4 and merged["config"][:-3] == src_a["config"][:-3]
    assert src_a["config"][-3] == 109  # the input is untouched
    card = (out / "README.md").read_text()
    assert "emb_g.weight" in card and "a.pth: 109" in card and "b.pth: 4" in card


def test_speaker_truncation_is_an_error_with_strict(tmp_path: Path) -> None:
    a, b = _voice(tmp_path / "a.pth", 1), _voice(tmp_path / "b.pth", 2, speakers=4)
    out = tmp_path / "out"
    result = run_cli("merge", weighted_recipe(tmp_path, [a, b], [0.5, 0.5]), out, "-q", "--strict")
    assert_clean_failure(result, out, "emb_g.weight", "truncated")


def test_rvc_speaker_embedding_against_a_non_rvc_file_is_refused_by_shape(tmp_path: Path) -> None:
    a = _voice(tmp_path / "a.pth", 1)
    plain = tmp_path / "plain.pth"
    weight = torch.load(a, weights_only=True)["weight"]
    torch.save({**weight, "emb_g.weight": weight["emb_g.weight"][:3]}, plain)
    out = tmp_path / "out"
    result = run_cli("merge", weighted_recipe(tmp_path, [a, plain], [0.5, 0.5]), out, "-q")
    assert_clean_failure(result, out, "emb_g.weight")
