"""The safetensors dtype vocabulary and its torch equivalents."""

from __future__ import annotations

import torch

SAFETENSORS_TO_TORCH: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
}
TORCH_TO_SAFETENSORS: dict[torch.dtype, str] = {v: k for k, v in SAFETENSORS_TO_TORCH.items()}

NAME_TO_TORCH: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float64": torch.float64,
}


def element_size(dtype: torch.dtype) -> int:
    """Bytes per entry (no tensor is made: this runs for every tensor on the thread that feeds the workers)."""
    return dtype.itemsize


def is_float(dtype: torch.dtype) -> bool:
    """Float tensors are merged; integer and bool tensors (e.g. position_ids) are copied."""
    return dtype.is_floating_point
