"""Bytes per entry of every dtype a safetensors file may hold, as torch lays the tensor out."""

from __future__ import annotations

import torch

from modelfusion.checkpoint.dtypes import SAFETENSORS_TO_TORCH, element_size


def test_element_size_matches_a_real_tensor():
    for name, dtype in SAFETENSORS_TO_TORCH.items():
        assert element_size(dtype) == torch.zeros(3, dtype=dtype).element_size(), name
    assert element_size(torch.bfloat16) == 2 and element_size(torch.float64) == 8
