"""Plain PyTorch training checkpoints: tensors nested under keys, DataParallel prefixes, EMA copies, non-tensor
entries carried from the base, optimizer state dropped, output in the base's layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from modelfusion.checkpoint import open_checkpoint
from modelfusion.errors import CheckpointError
from tests.checkpoint_formats.helpers import assert_clean_failure, merge_cli, run_cli, weighted_recipe


def _net(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "features.0.weight": torch.randn(4, 3, 3, 3, generator=g),
        "features.0.bias": torch.randn(4, generator=g),
        "bn.running_mean": torch.randn(4, generator=g),
        "bn.num_batches_tracked": torch.tensor(7 + seed),
        "classifier.weight": torch.randn(2, 4, generator=g),
    }


def _training_ckpt(path: Path, seed: int, dp: bool = False, key: str = "state_dict") -> Path:
    """What a training loop saves: the model (maybe DataParallel-wrapped), an EMA copy, optimizer, epoch."""
    sd = _net(seed)
    model = {f"module.{k}": v for k, v in sd.items()} if dp else sd
    opt = {"state": {0: {"exp_avg": torch.ones(4)}}, "param_groups": [{"lr": 0.1, "params": [0]}]}
    ema = {k: v * 2 for k, v in sd.items()}
    torch.save({key: model, "ema": ema, "optimizer": opt, "epoch": 3 + seed, "hparams": {"lr": 0.1}}, path)
    return path


@pytest.mark.parametrize(
    ("obj", "names"),
    [
        ({"a.weight": torch.ones(2)}, ["a.weight"]),
        ({"state_dict": {"a.weight": torch.ones(2)}, "epoch": 1}, ["a.weight"]),
        ({"model": {"module.a.weight": torch.ones(2), "module.b": torch.ones(1)}}, ["a.weight", "b"]),
        (
            {"model_state_dict": {"a": torch.ones(1)}, "optimizer_state_dict": {"state": {0: {"m": torch.ones(1)}}}},
            ["a"],
        ),
        ({"model": {"a": torch.ones(1)}, "ema": {"module.a": torch.ones(1)}}, ["a", "ema.a"]),
        ({"encoder": {"w": torch.ones(1)}, "decoder": {"w": torch.ones(1)}}, ["encoder.w", "decoder.w"]),
        ({"checkpoint": {"model": {"state_dict": {"x": torch.ones(1)}}}}, ["checkpoint.model.state_dict.x"]),
    ],
)
def test_tensor_names_follow_the_state_dict(tmp_path: Path, obj: dict, names: list[str]) -> None:
    torch.save(obj, tmp_path / "m.ckpt")
    with open_checkpoint(tmp_path / "m.ckpt") as ckpt:
        assert list(ckpt.infos) == names


def test_merge_keeps_the_base_layout_and_drops_optimizer_state(tmp_path: Path) -> None:
    a = _training_ckpt(tmp_path / "a.pth", seed=1)
    b = _training_ckpt(tmp_path / "b.pth", seed=2, dp=True, key="model")  # another layout: names still match
    out = tmp_path / "out"
    merge_cli(weighted_recipe(tmp_path, [a, b], [0.25, 0.75], base=a), out)
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "model.pth",
        "modelfusion_provenance.json",
        "modelfusion_recipe.yaml",
    ]
    merged = torch.load(out / "model.pth", weights_only=True)
    assert sorted(merged) == ["ema", "epoch", "hparams", "state_dict"]  # optimizer dropped
    assert merged["epoch"] == 4 and merged["hparams"] == {"lr": 0.1}  # carried from the base (a)
    sa, sb = _net(1), _net(2)
    for name, t in merged["state_dict"].items():
        if name == "bn.num_batches_tracked":
            assert torch.equal(t, sa[name])  # integers are copied from the base, never averaged
        else:
            torch.testing.assert_close(t, 0.25 * sa[name] + 0.75 * sb[name], rtol=0, atol=1e-6)
        torch.testing.assert_close(merged["ema"][name], 2 * t, rtol=0, atol=1e-5)  # the EMA copy is merged too
    assert "`optimizer`" in (out / "README.md").read_text()


def test_dataparallel_base_keeps_its_prefix(tmp_path: Path) -> None:
    a = _training_ckpt(tmp_path / "a.pt", seed=1, dp=True, key="model")
    b = _training_ckpt(tmp_path / "b.pt", seed=2)
    out = tmp_path / "out"
    merge_cli(weighted_recipe(tmp_path, [a, b], [0.5, 0.5]), out)
    merged = torch.load(out / "model.pt", weights_only=True)
    assert sorted(merged["model"]) == sorted(f"module.{k}" for k in _net(0))


def test_out_format_safetensors_writes_plain_names(tmp_path: Path) -> None:
    a = _training_ckpt(tmp_path / "a.ckpt", seed=1)
    b = _training_ckpt(tmp_path / "b.ckpt", seed=2)
    out = tmp_path / "out"
    merge_cli(weighted_recipe(tmp_path, [a, b], [0.5, 0.5]), out, "--out-format", "safetensors")
    merged = load_file(out / "model.safetensors")
    sa, sb = _net(1), _net(2)
    torch.testing.assert_close(
        merged["classifier.weight"], 0.5 * sa["classifier.weight"] + 0.5 * sb["classifier.weight"]
    )
    assert "ema.classifier.weight" in merged and not (out / "model.ckpt").exists()


def test_unknown_out_format_is_one_error(tmp_path: Path) -> None:
    a = _training_ckpt(tmp_path / "a.pt", seed=1)
    out = tmp_path / "out"
    result = run_cli("merge", weighted_recipe(tmp_path, [a, a], [0.5, 0.5]), out, "-q", "--out-format", "h5")
    assert_clean_failure(result, out, "--out-format")


def test_truncated_checkpoint_is_one_error_naming_it(tmp_path: Path) -> None:
    a = _training_ckpt(tmp_path / "a.pt", seed=1)
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(a.read_bytes()[:300])
    with pytest.raises(CheckpointError) as err:
        open_checkpoint(cut)
    assert err.value.where == str(cut)


def test_name_collision_is_refused(tmp_path: Path) -> None:
    torch.save({"model": {"ema.a": torch.ones(1)}, "ema": {"a": torch.ones(1)}}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match=r"both be named 'ema\.a'"):
        open_checkpoint(tmp_path / "c.pt")


def test_no_tensors_is_refused(tmp_path: Path) -> None:
    torch.save({"epoch": 3}, tmp_path / "e.pt")
    with pytest.raises(CheckpointError, match="no tensors"):
        open_checkpoint(tmp_path / "e.pt")
