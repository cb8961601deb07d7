"""Keras 3 .weights.h5 and .keras: files made by keras (torch backend), merged, loaded back by keras."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

from modelfusion.checkpoint import open_checkpoint  # noqa: E402
from modelfusion.errors import CheckpointError  # noqa: E402
from tests.checkpoint_formats.helpers import assert_clean_failure, merge_cli, run_cli, weighted_recipe  # noqa: E402


def _model(seed: int):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,))
    x = keras.layers.Dense(8, activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    for v in model.weights:  # BatchNormalization starts at 0/1: make every variable differ between the models
        v.assign(v.numpy() + np.random.default_rng(seed).normal(size=v.shape).astype("float32"))
    return model


def _expected(a, b, wa: float) -> list[np.ndarray]:
    return [wa * x + (1 - wa) * y for x, y in zip(a.get_weights(), b.get_weights(), strict=True)]


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_keras_merge_loads_back_in_keras(tmp_path: Path, suffix: str) -> None:
    a, b = _model(1), _model(2)
    paths = []
    for name, m in (("a", a), ("b", b)):
        path = tmp_path / f"{name}{suffix}"
        m.save_weights(path) if suffix == ".weights.h5" else m.save(path)
        paths.append(path)
    with open_checkpoint(paths[0]) as ckpt:
        assert "layers/dense/vars/0" in ckpt.infos and ckpt.infos["layers/dense/vars/0"].shape == (6, 8)
    out = tmp_path / "out"
    merge_cli(weighted_recipe(tmp_path, paths, [0.25, 0.75]), out)
    fresh = _model(3)
    if suffix == ".weights.h5":
        fresh.load_weights(out / "model.weights.h5")
    else:
        fresh = keras.saving.load_model(out / "model.keras")
        assert zipfile.ZipFile(out / "model.keras").read("config.json") == zipfile.ZipFile(paths[0]).read("config.json")
    for got, want in zip(fresh.get_weights(), _expected(a, b, 0.25), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    x = np.ones((2, 6), dtype="float32")
    assert fresh.predict(x, verbose=0).shape == (2, 3)


def test_out_format_safetensors_keeps_variable_paths(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    paths = [tmp_path / "a.weights.h5", tmp_path / "b.weights.h5"]
    _model(1).save_weights(paths[0])
    _model(2).save_weights(paths[1])
    out = tmp_path / "out"
    merge_cli(weighted_recipe(tmp_path, paths, [0.5, 0.5]), out, "--out-format", "safetensors")
    assert "layers/dense_1/vars/1" in load_file(out / "model.safetensors")


def _h5_with(path: Path, build) -> Path:
    with h5py.File(path, "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.ones((2, 2), dtype="float32"))
        build(f)
    return path


def test_external_link_is_refused(tmp_path: Path) -> None:
    _h5_with(tmp_path / "secret.h5", lambda f: None)
    evil = _h5_with(tmp_path / "evil.weights.h5", lambda f: f.__setitem__("x", h5py.ExternalLink("secret.h5", "/")))
    with pytest.raises(CheckpointError, match="link to another file") as err:
        open_checkpoint(evil)
    assert err.value.where == str(evil)


def test_external_storage_and_virtual_datasets_are_refused(tmp_path: Path) -> None:
    raw = tmp_path / "raw.bin"
    raw.write_bytes(b"\0" * 16)
    ext = _h5_with(tmp_path / "ext.weights.h5", lambda f: f.create_dataset("e", (4,), "f4", external=[(raw, 0, 16)]))
    with pytest.raises(CheckpointError, match="other files"):
        open_checkpoint(ext)

    def virtual(f) -> None:
        layout = h5py.VirtualLayout(shape=(2, 2), dtype="f4")
        layout[:] = h5py.VirtualSource(str(tmp_path / "secret.h5"), "d", shape=(2, 2))
        f.create_virtual_dataset("v", layout)

    vds = _h5_with(tmp_path / "vds.weights.h5", virtual)
    with pytest.raises(CheckpointError, match="other files"):
        open_checkpoint(vds)


def test_truncated_h5_is_one_error(tmp_path: Path) -> None:
    good = tmp_path / "a.weights.h5"
    _model(1).save_weights(good)
    cut = tmp_path / "cut.weights.h5"
    cut.write_bytes(good.read_bytes()[:1000])
    out = tmp_path / "out"
    result = run_cli("merge", weighted_recipe(tmp_path, [good, cut], [0.5, 0.5]), out, "-q")
    assert_clean_failure(result, out, "cut.weights.h5")
