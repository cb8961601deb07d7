"""Checking one client reply against the global model before it is merged: a reason to reject it, or None.

A reply is rejected when it carries an error, not exactly one ArrayRecord and one MetricRecord, no positive finite
example count under the weighting key, keys other than the global model's (missing or extra), a tensor shaped
differently from the global one, or a non-finite float entry. The round goes on with the replies that pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch


def _names(keys: set[str], limit: int = 3) -> str:
    shown = sorted(keys)[:limit]
    return ", ".join(shown) + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def reply_problem(message: Any, global_sd: Mapping[str, torch.Tensor], weighted_by_key: str) -> str | None:
    """Why `message` (a flwr Message) cannot be merged into `global_sd`; None when it can."""
    if message.has_error():
        return f"client error: {message.error.reason}"
    content = message.content
    if len(content.array_records) != 1:
        return f"{len(content.array_records)} ArrayRecords (expected 1)"
    if len(content.metric_records) != 1:
        return f"{len(content.metric_records)} MetricRecords (expected 1)"
    metrics = next(iter(content.metric_records.values()))
    count = metrics.get(weighted_by_key)
    if isinstance(count, bool) or not isinstance(count, (int, float)) or not math.isfinite(count) or count <= 0:
        return f"'{weighted_by_key}' is {count!r} (expected a positive number)"
    arrays = next(iter(content.array_records.values()))
    return state_problem(arrays.to_torch_state_dict(), global_sd)


def state_problem(state: Mapping[str, torch.Tensor], global_sd: Mapping[str, torch.Tensor]) -> str | None:
    """Why a client state dict cannot be merged into `global_sd` (keys, shapes, finiteness); None when it can."""
    missing = set(global_sd) - set(state)
    if missing:
        return f"missing keys: {_names(missing)}"
    extra = set(state) - set(global_sd)
    if extra:
        return f"unexpected keys: {_names(extra)}"
    for name, ref in global_sd.items():
        t = state[name]
        if tuple(t.shape) != tuple(ref.shape):
            return f"{name}: shape {tuple(t.shape)} differs from the global {tuple(ref.shape)}"
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            return f"{name}: non-finite values (NaN or Inf)"
        if ref.is_floating_point() != t.is_floating_point():
            return f"{name}: dtype {t.dtype} differs in kind from the global {ref.dtype}"
    return None
