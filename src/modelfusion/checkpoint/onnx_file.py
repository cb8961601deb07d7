"""ONNX models: the graph's initializers are the tensors; graph, opsets and metadata come from the base model.

Models merge only if their graphs are the same (same nodes, inputs and outputs): `compat["onnx graph"]` is a
digest of the graph without its initializers, compared at plan time. External data (initializers stored in
other files) is read only from files inside the model's folder: an absolute path or one with `..` is refused.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import torch

from modelfusion.checkpoint.dtypes import TORCH_TO_SAFETENSORS
from modelfusion.checkpoint.tensor_info import TensorInfo
from modelfusion.errors import CheckpointError


def _onnx(path: Path):
    try:
        import onnx
    except ImportError:
        raise CheckpointError("reading ONNX needs onnx: pip install 'modelfusion[formats]'", where=str(path)) from None
    return onnx


class OnnxFile:
    """An .onnx file loaded once (protobuf has no lazy reads); initializers converted on demand."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        onnx = _onnx(self.path)
        try:
            model = onnx.load(str(self.path), load_external_data=False)
        except Exception as e:  # protobuf DecodeError, truncated files
            detail = (str(e).strip().splitlines() or [""])[0][:200]
            raise CheckpointError(f"cannot read ONNX model (corrupt or truncated?): {detail}", str(self.path)) from None
        for init in model.graph.initializer:
            self._check_external(init)
        if any(init.data_location == onnx.TensorProto.EXTERNAL for init in model.graph.initializer):
            try:
                onnx.load_external_data_for_model(model, str(self.path.parent))
            except Exception as e:
                raise CheckpointError(f"cannot read external data: {e}", where=str(self.path)) from None
        self.model = model
        self._inits = {}
        self.infos: dict[str, TensorInfo] = {}
        for init in model.graph.initializer:
            if init.name in self._inits:  # the graph would use one, a dict would keep the other: refuse
                raise CheckpointError(f"two initializers are named '{init.name}'", where=str(self.path))
            self._inits[init.name] = init
            dtype = self._dtype(init, onnx)
            self._check_size(init, dtype)
            self.infos[init.name] = TensorInfo(init.name, tuple(init.dims), dtype, str(self.path))
        if not self.infos:
            raise CheckpointError("has no initializers (no weights to merge)", where=str(self.path))
        self.compat = {"onnx graph": self._graph_digest()}

    def _check_external(self, init) -> None:
        for entry in init.external_data:
            if entry.key != "location":
                continue
            rel = PurePosixPath(entry.value.replace("\\", "/"))
            if rel.is_absolute() or ".." in rel.parts or PureWindowsPath(entry.value).drive:
                raise CheckpointError(
                    f"initializer '{init.name}' keeps its data outside the model's folder ({entry.value}): refused",
                    where=str(self.path),
                )

    def _dtype(self, init, onnx) -> torch.dtype:
        if init.data_type == onnx.TensorProto.BFLOAT16:
            return torch.bfloat16
        try:
            np_type = onnx.helper.tensor_dtype_to_np_dtype(init.data_type)
            dtype = torch.from_numpy(np.empty(0, dtype=np_type)).dtype
        except (KeyError, TypeError, ValueError):  # an unknown type number, a type numpy or torch lacks
            np_type, dtype = f"data_type {init.data_type}", None
        if dtype not in TORCH_TO_SAFETENSORS:
            raise CheckpointError(f"initializer '{init.name}' has unsupported type {np_type}", str(self.path))
        return dtype

    def _check_size(self, init, dtype: torch.dtype) -> None:
        """Dimensions are counts, and inline raw data holds exactly their product's bytes (typed fields and
        external data are checked when read)."""
        if any(d < 0 for d in init.dims):
            problem = f"initializer '{init.name}' has a negative dimension {list(init.dims)}"
            raise CheckpointError(problem, where=str(self.path))
        count = 1
        for d in init.dims:
            count *= d
        if init.HasField("raw_data") and len(init.raw_data) != count * dtype.itemsize:
            raise CheckpointError(
                f"initializer '{init.name}' {list(init.dims)} needs {count * dtype.itemsize} bytes but holds "
                f"{len(init.raw_data)}",
                where=str(self.path),
            )

    def _graph_digest(self) -> str:
        graph = self.model.graph.__class__()
        graph.CopyFrom(self.model.graph)
        del graph.initializer[:]
        graph.name = ""
        return hashlib.sha256(graph.SerializeToString(deterministic=True)).hexdigest()[:16]

    def read(self, name: str) -> torch.Tensor:
        from onnx import TensorProto, numpy_helper

        init = self._inits[name]
        with self._lock:
            try:
                array = numpy_helper.to_array(init)
            except Exception as e:
                raise CheckpointError(f"initializer '{name}' is malformed: {e}", where=str(self.path)) from None
        if init.data_type == TensorProto.BFLOAT16:
            return torch.from_numpy(np.ascontiguousarray(array).view(np.int16).copy()).view(torch.bfloat16)
        tensor = torch.from_numpy(np.array(array, copy=True))
        if tuple(tensor.shape) != self.infos[name].shape:
            raise CheckpointError(f"initializer '{name}' holds data of the wrong size", where=str(self.path))
        return tensor

    def close(self) -> None:
        self._inits = {}

    native_name = "model.onnx"

    def write_native(self, dest: Path, tensors: dict[str, torch.Tensor]) -> list[str]:
        """The base graph with its initializers replaced, each in its original type (the graph's ops need it)."""
        onnx = _onnx(self.path)
        from onnx import numpy_helper

        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        for init in model.graph.initializer:
            if init.name not in tensors:
                continue
            value = tensors[init.name].to(self.infos[init.name].dtype)
            if value.dtype == torch.bfloat16:
                new = numpy_helper.from_array(value.view(torch.int16).numpy().view(np.uint16), init.name)
                new.data_type = onnx.TensorProto.BFLOAT16
            else:
                new = numpy_helper.from_array(value.numpy(), init.name)
            init.CopyFrom(new)
        onnx.save(model, str(dest))
        return []
