"""Keras 3 weights: `.weights.h5` (h5py) and `.keras` archives (a zip holding config.json, metadata.json and
model.weights.h5), read and written with h5py: no TensorFlow or Keras import.

A tensor's name is its dataset path in the h5 file, e.g. `layers/dense/vars/0` (Keras 3 stores each layer's
variables as `vars/0`, `vars/1`, ... in creation order). Non-numeric datasets (a lookup layer's vocabulary)
are not tensors: the output keeps the base's. External links, soft links, virtual datasets and external storage
(data in other files) are refused.
"""

from __future__ import annotations

import io
import shutil
import threading
import zipfile
from pathlib import Path

import numpy as np
import torch

from modelfusion.checkpoint.dtypes import TORCH_TO_SAFETENSORS
from modelfusion.checkpoint.tensor_info import TensorInfo
from modelfusion.errors import CheckpointError, OutputError

ARCHIVE_WEIGHTS = "model.weights.h5"
NUMERIC_KINDS = "fiub"


def _h5py(path: Path):
    try:
        import h5py
    except ImportError:
        raise CheckpointError(
            "reading Keras files needs h5py: pip install 'modelfusion[formats]'", where=str(path)
        ) from None
    return h5py


def is_keras_file(path: Path) -> bool:
    return path.name.endswith(".h5") or path.suffix == ".keras"


class KerasFile:
    """A Keras `.weights.h5` or `.keras` file, opened read-only; variables read one at a time."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._h5 = None
        self.infos: dict[str, TensorInfo] = {}
        h5py = _h5py(self.path)
        try:
            self._h5 = h5py.File(self._source(), "r")
            self._walk(self._h5, h5py)
        except CheckpointError:
            self.close()
            raise
        except Exception as e:  # truncated or corrupt HDF5, a bad zip: h5py and zipfile raise many types
            self.close()
            detail = (str(e).strip().splitlines() or [""])[0][:200]
            raise CheckpointError(
                f"cannot read Keras weights (corrupt or truncated?): {detail}", str(self.path)
            ) from None
        if not self.infos:
            self.close()
            raise CheckpointError("holds no numeric weights (not a Keras weights file?)", where=str(self.path))

    def _source(self):
        if self.path.suffix != ".keras":
            return self.path
        with zipfile.ZipFile(self.path) as archive:
            if ARCHIVE_WEIGHTS not in archive.namelist():
                raise CheckpointError(f"a .keras archive without {ARCHIVE_WEIGHTS}", where=str(self.path))
            return io.BytesIO(archive.read(ARCHIVE_WEIGHTS))

    def _walk(self, group, h5py) -> None:
        for key in group:
            link = group.get(key, getlink=True)
            where = f"{group.name.rstrip('/')}/{key}"
            if isinstance(link, h5py.ExternalLink):
                raise CheckpointError(f"'{where}' is a link to another file ({link.filename}): refused", str(self.path))
            if isinstance(link, h5py.SoftLink):
                raise CheckpointError(f"'{where}' is a soft link ({link.path}): refused", str(self.path))
            obj = group[key]
            if isinstance(obj, h5py.Group):
                self._walk(obj, h5py)
                continue
            if obj.is_virtual or obj.external:
                raise CheckpointError(f"dataset '{where}' keeps its data in other files: refused", str(self.path))
            if obj.dtype.kind not in NUMERIC_KINDS or obj.dtype.names is not None:
                continue
            dtype = torch.from_numpy(np.empty(0, dtype=obj.dtype)).dtype
            if dtype not in TORCH_TO_SAFETENSORS:
                raise CheckpointError(f"dataset '{where}' has unsupported dtype {obj.dtype}", str(self.path))
            name = where.lstrip("/")
            self.infos[name] = TensorInfo(name=name, shape=tuple(obj.shape), dtype=dtype, file=str(self.path))

    def read(self, name: str) -> torch.Tensor:
        with self._lock:
            try:
                data = self._h5[name][()]
            except Exception as e:
                raise CheckpointError(f"cannot read '{name}': {e}", where=str(self.path)) from None
        return torch.from_numpy(np.ascontiguousarray(data).reshape(self.infos[name].shape))

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    @property
    def native_name(self) -> str:
        return "model.keras" if self.path.suffix == ".keras" else "model.weights.h5"

    def write_native(self, dest: Path, tensors: dict[str, torch.Tensor]) -> list[str]:
        """The base file with each variable's values replaced (in the variable's own dtype)."""
        if self.path.suffix != ".keras":
            shutil.copyfile(self.path, dest)
            self._fill(dest, tensors)
            return []
        weights = dest.with_name(dest.name + ".weights.h5")
        with zipfile.ZipFile(self.path) as src:
            weights.write_bytes(src.read(ARCHIVE_WEIGHTS))
            self._fill(weights, tensors)
            with zipfile.ZipFile(dest, "w") as out:
                for item in src.infolist():
                    if item.filename == ARCHIVE_WEIGHTS:
                        out.write(weights, ARCHIVE_WEIGHTS)
                    else:
                        out.writestr(item, src.read(item))
        weights.unlink()
        return []

    def _fill(self, h5_path: Path, tensors: dict[str, torch.Tensor]) -> None:
        h5py = _h5py(self.path)
        with h5py.File(h5_path, "r+") as f:
            for name, tensor in tensors.items():
                if name not in f or tuple(f[name].shape) != tuple(tensor.shape):
                    raise OutputError(
                        f"merged tensor '{name}' {tuple(tensor.shape)} has no place of that shape in the base's "
                        "Keras file; write a safetensors folder instead (--out-format safetensors)",
                        where=str(self.path),
                    )
                ds = f[name]
                value = tensor.float() if tensor.dtype == torch.bfloat16 else tensor
                ds[...] = value.numpy().astype(ds.dtype)
