"""Metadata of one stored tensor, known without reading its data."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from modelfusion.checkpoint.dtypes import element_size


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: torch.dtype
    file: str
    """The file that holds it (for reading order and error messages)."""

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * element_size(self.dtype)
