"""GGUF (llama.cpp) files, read and written with the `gguf` package.

F32 / F16 / BF16 and integer tensors are read as they are; quantized tensors (Q8_0, Q4_0, Q4_K, ...) are
dequantized to float32 with gguf's own routines. The output keeps the base's metadata and each tensor's type:
re-quantized with gguf's routines where gguf can quantize that type, else written as F16. Models merge only if
their `general.architecture` and tokenizer (model, tokens) are equal (`compat`, checked at plan time).
Tensor names are GGUF's (`blk.0.attn_q.weight`), shapes in PyTorch order (GGUF's dimensions reversed).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from modelfusion.checkpoint.tensor_info import TensorInfo
from modelfusion.errors import CheckpointError

TOKENIZER_KEYS = ("tokenizer.ggml.model", "tokenizer.ggml.tokens")


def _gguf(path: Path):
    try:
        import gguf
    except ImportError:
        raise CheckpointError("reading GGUF needs gguf: pip install 'modelfusion[formats]'", where=str(path)) from None
    return gguf


class GgufFile:
    """A memory-mapped GGUF file; each tensor converted (and dequantized) when read."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        gguf = _gguf(self.path)
        self._q = gguf.GGMLQuantizationType
        try:
            self.reader = gguf.GGUFReader(self.path, "r")
            for field in self.reader.fields.values():
                field.contents()  # every value decodes (UTF-8 strings, known types): the writer copies them all
        except Exception as e:  # bad magic, truncated, lying counts, bad UTF-8: the reader raises many types
            detail = (str(e).strip().splitlines() or [""])[0][:200]
            raise CheckpointError(
                f"cannot read GGUF file (corrupt or truncated?): {type(e).__name__}: {detail}", str(self.path)
            ) from None
        self._tensors = {t.name: t for t in self.reader.tensors}
        if not self._tensors:
            raise CheckpointError("holds no tensors", where=str(self.path))
        self.infos = {
            name: TensorInfo(name, tuple(int(d) for d in reversed(t.shape.tolist())), self._dtype(t), str(self.path))
            for name, t in self._tensors.items()
        }
        self.compat = {"GGUF architecture": self._field("general.architecture")}
        for key in TOKENIZER_KEYS:
            self.compat[key] = self._digest(key)

    def _field(self, key: str) -> object:
        field = self.reader.fields.get(key)
        return field.contents() if field is not None else None

    def _digest(self, key: str) -> str | None:
        field = self.reader.fields.get(key)
        if field is None:
            return None
        return hashlib.sha256(b"".join(bytes(p.tobytes()) for p in field.parts[-len(field.data) :])).hexdigest()[:16]

    def _dtype(self, t) -> torch.dtype:
        q = self._q
        plain = {q.F32: torch.float32, q.F16: torch.float16, q.BF16: torch.bfloat16, q.F64: torch.float64}
        plain |= {q.I8: torch.int8, q.I16: torch.int16, q.I32: torch.int32, q.I64: torch.int64}
        return plain.get(t.tensor_type, torch.float32)  # quantized: dequantized to float32

    def read(self, name: str) -> torch.Tensor:
        from gguf.quants import dequantize

        t, info = self._tensors[name], self.infos[name]
        try:
            if t.tensor_type == self._q.BF16:
                raw = np.ascontiguousarray(t.data).view(np.int16).copy()
                return torch.from_numpy(raw).view(torch.bfloat16).reshape(info.shape)
            if info.dtype != torch.float32 or t.tensor_type == self._q.F32:
                return torch.from_numpy(np.array(t.data, copy=True)).reshape(info.shape)
            return torch.from_numpy(np.array(dequantize(t.data, t.tensor_type), copy=True)).reshape(info.shape)
        except Exception as e:  # a type gguf cannot dequantize, data of the wrong size
            detail = (str(e).strip().splitlines() or [""])[0][:200]
            problem = f"cannot read tensor '{name}' ({t.tensor_type.name}): {detail}"
            raise CheckpointError(problem, where=str(self.path)) from None

    def close(self) -> None:
        self._tensors = {}

    native_name = "model.gguf"

    def write_native(self, dest: Path, tensors: dict[str, torch.Tensor]) -> list[str]:
        """The base's metadata and tensor order; each tensor in the base's type where gguf can write it."""
        gguf = _gguf(self.path)
        from gguf.quants import quantize

        writer = gguf.GGUFWriter(dest, arch=str(self._field("general.architecture")), endianess=self.reader.endianess)
        for field in self.reader.fields.values():
            if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
                continue
            kind = field.types[0]
            sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
        notes: list[str] = []
        order = [t.name for t in self.reader.tensors if t.name in tensors]
        for name in [*order, *(n for n in tensors if n not in self._tensors)]:
            value = tensors[name]
            qtype = self._tensors[name].tensor_type if name in self._tensors else self._q.F32
            array = value.float().numpy()
            if qtype == self._q.F32 or not value.is_floating_point():
                writer.add_tensor(name, value.numpy() if not value.is_floating_point() else array)
                continue
            try:
                data = quantize(array, qtype)
            except (NotImplementedError, ValueError):
                notes.append(f"`{name}`: {qtype.name} cannot be re-quantized by gguf; written as F16.")
                qtype, data = self._q.F16, array.astype(np.float16)
            writer.add_tensor(name, data, raw_dtype=qtype if data.dtype == np.uint8 else None)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return notes
