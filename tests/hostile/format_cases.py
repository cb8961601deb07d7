"""Broken files of the formats beyond safetensors folders (GGUF, Keras .weights.h5 / .keras, ONNX, structured
PyTorch .pth, RVC voice .pth): each builder writes one bad file into `folder` and returns its path.

Valid files are written with the formats' own libraries (gguf, h5py, onnx.helper, torch.save), tiny, without
Keras or transformers imports. `python -m tests.hostile.format_cases DIR` writes every case under DIR.
"""

from __future__ import annotations

import struct
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

GGUF_MAGIC = b"GGUF"


# -- valid files ---------------------------------------------------------------------------------------------------
def good_gguf(folder: Path, seed: int = 0, name: str = "model.gguf") -> Path:
    import gguf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    path = folder / name
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_name(f"tiny{seed}")
    w.add_tokenizer_model("llama")
    w.add_token_list(["<s>", "a", "b"])
    w.add_tensor("token_embd.weight", rng.normal(size=(3, 32)).astype("float16"))
    q8 = gguf.GGMLQuantizationType.Q8_0
    q = gguf.quants.quantize(rng.normal(size=(2, 32)).astype("float32"), q8)
    w.add_tensor("blk.0.attn_q.weight", q, raw_dtype=q8)
    w.add_tensor("output_norm.weight", rng.normal(size=(32,)).astype("float32"))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def _h5_weights(path: Path, seed: int) -> Path:
    import h5py

    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:  # Keras 3's layout: layers/<name>/vars/<i>
        f.create_dataset("layers/dense/vars/0", data=rng.normal(size=(6, 8)).astype("float32"))
        f.create_dataset("layers/dense/vars/1", data=rng.normal(size=(8,)).astype("float32"))
        f.create_dataset("layers/dense_1/vars/0", data=rng.normal(size=(8, 3)).astype("float32"))
        f.create_group("optimizer/vars")
    return path


def good_h5(folder: Path, seed: int = 0, name: str = "model.weights.h5") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return _h5_weights(folder / name, seed)


def good_keras(folder: Path, seed: int = 0, name: str = "model.keras") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    weights = _h5_weights(folder / "tmp.weights.h5", seed)
    path = folder / name
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", '{"class_name": "Functional"}')
        z.writestr("metadata.json", '{"keras_version": "3.15.0"}')
        z.write(weights, "model.weights.h5")
    weights.unlink()
    return path


def _onnx_model(seed: int):
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = {"w": rng.normal(size=(4, 3)).astype("float32"), "b": rng.normal(size=(3,)).astype("float32")}
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def good_onnx(folder: Path, seed: int = 0, name: str = "model.onnx") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(_onnx_model(seed).SerializeToString())
    return path


def _state(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"features.0.weight": torch.randn(4, 3, generator=g), "classifier.bias": torch.randn(4, generator=g)}


def good_pth(folder: Path, seed: int = 0, name: str = "model.pth") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": _state(seed), "epoch": 3, "optimizer": {"lr": 0.1}}, folder / name)
    return folder / name


RVC_CONFIG = [1025, 32, 192, 192, 768, 2, 6, 3, 0, "1", [3, 7, 11], [[1, 3, 5]] * 3, [10, 10, 2, 2], 512]
RVC_CONFIG += [[16, 16, 4, 4]]


def rvc_root(seed: int, speakers: int = 4) -> dict:
    g = torch.Generator().manual_seed(seed)
    weight = {
        "enc_p.emb_phone.weight": torch.randn(8, 12, generator=g).half(),
        "emb_g.weight": torch.randn(speakers, 6, generator=g).half(),
    }
    config = [*RVC_CONFIG, speakers, 6, 40000]
    return {"weight": weight, "config": config, "info": f"{seed}epoch", "sr": "40k", "f0": 1, "version": "v2"}


def good_rvc(folder: Path, seed: int = 0, name: str = "voice.pth") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(rvc_root(seed), folder / name)
    return folder / name


# -- byte-level damage ---------------------------------------------------------------------------------------------
def _damaged(good: Callable[..., Path], damage: Callable[[bytes], bytes]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = good(folder, seed=1)
        path.write_bytes(damage(path.read_bytes()))
        return path

    return build


def truncate_half(blob: bytes) -> bytes:
    return blob[: len(blob) // 2]


def garbage(blob: bytes) -> bytes:
    return bytes(np.random.default_rng(7).integers(0, 256, size=max(len(blob), 64), dtype=np.uint8))


def empty(_blob: bytes) -> bytes:
    return b""


# -- GGUF ----------------------------------------------------------------------------------------------------------
def gguf_wrong_magic(blob: bytes) -> bytes:
    return b"GGML" + blob[4:]


def gguf_lying_tensor_count(blob: bytes) -> bytes:
    """Header: magic, u32 version, u64 tensor count, u64 key-value count."""
    return blob[:8] + struct.pack("<Q", 2**40) + blob[16:]


def gguf_lying_kv_count(blob: bytes) -> bytes:
    return blob[:16] + struct.pack("<Q", 2**62) + blob[24:]


def gguf_bad_utf8_name(blob: bytes) -> bytes:
    """general.name's value ("tiny1") replaced by bytes that are not UTF-8."""
    at = blob.index(b"tiny1")
    return blob[:at] + b"\xff\xfe\xfd\xfc\xfb" + blob[at + 5 :]


def gguf_huge_dims(blob: bytes) -> bytes:
    """The first tensor's first dimension (u64, after its name) made 2**40: its data would run past the end."""
    name = b"token_embd.weight"
    at = blob.index(name) + len(name) + 4  # u32 n_dims
    return blob[:at] + struct.pack("<Q", 2**40) + blob[at + 8 :]


# -- Keras ---------------------------------------------------------------------------------------------------------
def h5_external_link(folder: Path) -> Path:
    import h5py

    outside = good_h5(folder.parent / f"{folder.name}_outside", seed=5)
    path = good_h5(folder, seed=1)
    with h5py.File(path, "r+") as f:
        f["layers/stolen"] = h5py.ExternalLink(str(outside), "/layers/dense")
    return path


def h5_soft_link(folder: Path) -> Path:
    import h5py

    path = good_h5(folder, seed=1)
    with h5py.File(path, "r+") as f:
        f["layers/alias"] = h5py.SoftLink("/layers/dense")
    return path


def h5_virtual_dataset(folder: Path) -> Path:
    import h5py

    outside = good_h5(folder.parent / f"{folder.name}_outside", seed=5)
    path = good_h5(folder, seed=1)
    layout = h5py.VirtualLayout(shape=(8,), dtype="float32")
    layout[:] = h5py.VirtualSource(str(outside), "layers/dense/vars/1", shape=(8,))
    with h5py.File(path, "r+") as f:
        del f["layers/dense/vars/1"]
        f.create_virtual_dataset("layers/dense/vars/1", layout)
    return path


def h5_external_storage(folder: Path) -> Path:
    """A dataset whose raw data lives in another file (HDF5 'external storage')."""
    import h5py

    outside = folder.parent / f"{folder.name}_outside.bin"
    outside.parent.mkdir(parents=True, exist_ok=True)
    outside.write_bytes(np.ones(8, dtype="float32").tobytes())
    path = good_h5(folder, seed=1)
    with h5py.File(path, "r+") as f:
        del f["layers/dense/vars/1"]
        f.create_dataset("layers/dense/vars/1", shape=(8,), dtype="float32", external=[(str(outside), 0, 32)])
    return path


def h5_no_weights(folder: Path) -> Path:
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_group("layers/dense/vars")
        f.create_dataset("vocabulary", data=np.array([b"a", b"b"]))
    return path


def keras_not_a_zip(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.keras"
    path.write_bytes(b"PK\x03\x04 not really a zip" * 8)
    return path


def keras_without_weights(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("metadata.json", "{}")
    return path


def keras_garbage_weights(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 200)
    return path


# -- ONNX ----------------------------------------------------------------------------------------------------------
def _onnx_case(edit: Callable) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        model = _onnx_model(1)
        edit(model, folder)
        path = folder / "model.onnx"
        path.write_bytes(model.SerializeToString())
        return path

    return build


def _external(location: str):
    def edit(model, folder: Path) -> None:
        from onnx import TensorProto

        init = model.graph.initializer[0]
        init.ClearField("raw_data")
        init.data_location = TensorProto.EXTERNAL
        init.external_data.add(key="location", value=location)
        init.external_data.add(key="length", value="48")

    return edit


def _symlinked_external(model, folder: Path) -> None:
    outside = folder.parent / f"{folder.name}_outside.bin"
    outside.write_bytes(np.ones(12, dtype="float32").tobytes())
    (folder / "w.bin").symlink_to(outside)
    _external("w.bin")(model, folder)


def _duplicate_initializer(model, folder: Path) -> None:
    model.graph.initializer.add().CopyFrom(model.graph.initializer[0])


def _unknown_data_type(model, folder: Path) -> None:
    model.graph.initializer[0].data_type = 0


def _short_raw_data(model, folder: Path) -> None:
    init = model.graph.initializer[0]
    init.raw_data = init.raw_data[:-4]


def _no_initializers(model, folder: Path) -> None:
    del model.graph.initializer[:]


# -- structured .pth and RVC ---------------------------------------------------------------------------------------
def _pth_case(root: Callable[[], object], name: str = "model.pth") -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(root(), folder / name)
        return folder / name

    return build


def _pth_duplicate_names() -> object:
    """`state_dict["ema.w"]` and `ema["w"]` would both be named `ema.w`."""
    return {"state_dict": {**_state(1), "ema.w": torch.zeros(2)}, "ema": {"w": torch.ones(2)}}


def _rvc_without(*keys: str) -> Callable[[], object]:
    def root() -> object:
        r = rvc_root(1)
        for k in keys:
            if k == "emb_g.weight":
                del r["weight"][k]
            else:
                del r[k]
        return r

    return root


def _rvc_config_not_a_list() -> object:
    return {**rvc_root(1), "config": "40k-v2"}


Case = tuple[Callable[[Path], Path], str, Callable[..., Path]]
"""(builder of the bad file, a fragment the error must contain, builder of a good file to merge it with)."""

BROKEN_FORMATS: dict[str, Case] = {
    "gguf truncated": (_damaged(good_gguf, truncate_half), "cannot read GGUF", good_gguf),
    "gguf garbage": (_damaged(good_gguf, garbage), "cannot read GGUF", good_gguf),
    "gguf empty": (_damaged(good_gguf, empty), "cannot read GGUF", good_gguf),
    "gguf wrong magic": (_damaged(good_gguf, gguf_wrong_magic), "magic", good_gguf),
    "gguf lying tensor count": (_damaged(good_gguf, gguf_lying_tensor_count), "cannot read GGUF", good_gguf),
    "gguf lying key-value count": (_damaged(good_gguf, gguf_lying_kv_count), "cannot read GGUF", good_gguf),
    "gguf metadata not UTF-8": (_damaged(good_gguf, gguf_bad_utf8_name), "UnicodeDecodeError", good_gguf),
    "gguf tensor runs past the end": (_damaged(good_gguf, gguf_huge_dims), "cannot read GGUF", good_gguf),
    "h5 truncated": (_damaged(good_h5, truncate_half), "cannot read Keras", good_h5),
    "h5 garbage": (_damaged(good_h5, garbage), "cannot read Keras", good_h5),
    "h5 external link": (h5_external_link, "link to another file", good_h5),
    "h5 soft link": (h5_soft_link, "soft link", good_h5),
    "h5 virtual dataset outside the file": (h5_virtual_dataset, "in other files", good_h5),
    "h5 external storage": (h5_external_storage, "in other files", good_h5),
    "h5 without numeric weights": (h5_no_weights, "no numeric weights", good_h5),
    "keras not a zip": (keras_not_a_zip, "cannot read Keras", good_keras),
    "keras without model.weights.h5": (keras_without_weights, "without model.weights.h5", good_keras),
    "keras garbage weights": (keras_garbage_weights, "cannot read Keras", good_keras),
    "keras truncated": (_damaged(good_keras, truncate_half), "cannot read Keras", good_keras),
    "onnx garbage": (_damaged(good_onnx, garbage), "cannot read ONNX", good_onnx),
    "onnx truncated": (_damaged(good_onnx, truncate_half), "cannot read ONNX", good_onnx),
    "onnx external data with ..": (_onnx_case(_external("../../etc/passwd")), "outside the model's folder", good_onnx),
    "onnx external data absolute": (_onnx_case(_external("/etc/passwd")), "outside the model's folder", good_onnx),
    "onnx external data missing": (_onnx_case(_external("nowhere.bin")), "external data", good_onnx),
    "onnx external data symlinked out": (_onnx_case(_symlinked_external), "symbolic link", good_onnx),
    "onnx duplicate initializer": (_onnx_case(_duplicate_initializer), "two initializers", good_onnx),
    "onnx unknown data type": (_onnx_case(_unknown_data_type), "unsupported type", good_onnx),
    "onnx raw data too short": (_onnx_case(_short_raw_data), "needs 48 bytes", good_onnx),
    "onnx without initializers": (_onnx_case(_no_initializers), "no initializers", good_onnx),
    "pth with no tensors": (_pth_case(lambda: {"state_dict": {}, "epoch": 3}), "holds no tensors", good_pth),
    "pth with duplicate names": (_pth_case(_pth_duplicate_names), "both be named 'ema.w'", good_pth),
    "pth garbage": (_damaged(good_pth, garbage), "Unsupported operand", good_pth),
    "rvc without config": (_pth_case(_rvc_without("config"), "voice.pth"), "'config'", good_rvc),
    "rvc config not a list": (_pth_case(_rvc_config_not_a_list, "voice.pth"), "'config'", good_rvc),
    "rvc without sr and f0": (_pth_case(_rvc_without("sr", "f0"), "voice.pth"), "'sr'", good_rvc),
    "rvc without emb_g": (_pth_case(_rvc_without("emb_g.weight"), "voice.pth"), "emb_g.weight", good_rvc),
}

GOOD_FORMATS: dict[str, Callable[..., Path]] = {
    "gguf": good_gguf,
    "weights.h5": good_h5,
    "keras": good_keras,
    "onnx": good_onnx,
    "pth": good_pth,
    "rvc": good_rvc,
}


def main(root: str) -> None:
    base = Path(root)
    for name, (build, _, _) in BROKEN_FORMATS.items():
        print(f"{name}: {build(base / name.replace(' ', '_'))}")


if __name__ == "__main__":
    main(sys.argv[1])
