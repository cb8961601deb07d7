"""A base checkpoint with a LoRA adapter applied on the fly, tensor by tensor (mergekit's `model: BASE+ADAPTER`).

Each adapted tensor is computed when read, W' = W + (B A) s (lora_adapter.py has the forms), in float32 (float64
for a float64 base) and returned in the base's dtype; every other tensor is the base's, untouched. Row blocks are
computed from the matching rows of B (or columns of A for a transposed delta), so streamed methods read an
adapted tensor block by block like any other.

Names: PEFT names a module as the model it wrapped did (`model.layers.0.self_attn.q_proj` for LlamaForCausalLM).
The base's tensor names may carry one model prefix more or less (an adapter trained on LlamaModel applied to a
LlamaForCausalLM folder, or the reverse); the one renaming (none, one leading component removed, or one added)
that matches the most adapter tensors is used, and every adapter tensor must then name a base tensor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from modelfusion.checkpoint.checkpoint import Checkpoint
from modelfusion.checkpoint.dtypes import is_float
from modelfusion.checkpoint.lora_adapter import LoraAdapter, LoraDelta
from modelfusion.checkpoint.tensor_info import TensorInfo
from modelfusion.errors import CheckpointError


@dataclass(frozen=True)
class AdaptedModel:
    """A `BASE+ADAPTER` model reference, resolved: the base model's path and the adapter folder."""

    base: Path
    adapter: Path

    def __str__(self) -> str:
        return f"{self.base}+{self.adapter}"


@dataclass(frozen=True)
class _Edit:
    """What the adapter does to one base tensor: replace it (adapter key) and/or add a delta (the bias flag: add
    s * lora_B.bias rather than (B A) s)."""

    replace: str | None = None
    delta: LoraDelta | None = None
    bias: bool = False


def _renaming(names: Iterable[str], base: set[str]) -> tuple[str, str]:
    """(prefix to remove, prefix to add) turning the most adapter tensor names into base tensor names."""
    names = list(names)
    firsts = {n.split(".", 1)[0] + "." for n in names if "." in n}
    base_firsts = {n.split(".", 1)[0] + "." for n in base if "." in n}
    candidates = [("", "")] + [(p, "") for p in sorted(firsts)] + [("", p) for p in sorted(base_firsts)]

    def hits(c: tuple[str, str]) -> int:
        strip, add = c
        return sum(n.startswith(strip) and add + n[len(strip) :] in base for n in names)

    return max(candidates, key=hits)  # the first of the best: no renaming wins a tie


class LoraAppliedFile:
    """The tensor-file view (infos, read, read_rows, close) of `base` with `adapter` applied; owns both."""

    def __init__(self, base: Checkpoint, adapter: LoraAdapter) -> None:
        self.base = base
        self.adapter = adapter
        self.infos: dict[str, TensorInfo] = dict(base.infos)
        self.edits = self._edits()

    def _fail(self, problem: str) -> CheckpointError:
        return CheckpointError(problem, where=self.adapter.where)

    def _edits(self) -> dict[str, _Edit]:
        ad = self.adapter
        wanted: dict[str, _Edit] = {}
        for name, key in ad.replaced.items():
            wanted[name] = _Edit(replace=key)
        for module, delta in ad.deltas.items():
            old = wanted.get(f"{module}.weight", _Edit())
            wanted[f"{module}.weight"] = _Edit(old.replace, delta)
            if delta.bias is not None:
                old = wanted.get(f"{module}.bias", _Edit())
                wanted[f"{module}.bias"] = _Edit(old.replace, delta, bias=True)
        strip, add = _renaming(wanted, set(self.infos))
        edits: dict[str, _Edit] = {}
        unmatched: list[str] = []
        for name, edit in wanted.items():
            target = add + name[len(strip) :] if name.startswith(strip) else None
            if target is None or target not in self.infos:
                unmatched.append(name)
            else:
                edits[target] = edit
        if not edits:
            raise self._fail(
                f"none of the adapter's {len(wanted)} target tensor(s) (e.g. '{sorted(wanted)[0]}') is a tensor of "
                f"the base {self.base.label}: is it the adapter of another model?"
            )
        if unmatched:
            shown = ", ".join(f"'{n}'" for n in sorted(unmatched)[:3])
            raise self._fail(f"{len(unmatched)} adapter target tensor(s) not in the base {self.base.label}: {shown}")
        for target, edit in edits.items():
            self._check(target, edit)
        return edits

    def _check(self, target: str, edit: _Edit) -> None:
        info = self.infos[target]
        if not is_float(info.dtype):
            raise self._fail(f"the adapter changes '{target}', a {info.dtype} tensor of the base")
        if edit.replace is not None:
            shape = self.adapter.file.infos[edit.replace].shape
            if tuple(shape) != info.shape:
                raise self._fail(
                    f"'{edit.replace}' has shape {list(shape)} but the base's '{target}' has {list(info.shape)} "
                    "(a resized vocabulary? resize the base first)"
                )
        if edit.delta is not None:
            ad = self.adapter
            want = (ad.file.infos[edit.delta.b].shape[0],) if edit.bias else ad.delta_shape(edit.delta)
            if tuple(want) != info.shape:
                flag = "" if edit.bias else " (is fan_in_fan_out right for this model?)"
                raise self._fail(
                    f"the update of '{target}' has shape {list(want)}, the base tensor {list(info.shape)}{flag}"
                )

    # -- reading ----------------------------------------------------------------------------------------------
    def _compute_dtype(self, name: str) -> torch.dtype:
        return torch.float64 if self.infos[name].dtype == torch.float64 else torch.float32

    def _delta(self, edit: _Edit, dtype: torch.dtype, rows: slice | None) -> torch.Tensor:
        d, read = edit.delta, self.adapter.file.read
        assert d is not None
        if edit.bias:
            assert d.bias is not None
            bias = read(d.bias).to(dtype)
            return (bias if rows is None else bias[rows]) * d.scale
        a, b = read(d.a).to(dtype), read(d.b).to(dtype)
        if d.transpose:  # rows of (B A)^T are columns of A
            return (b @ (a if rows is None else a[:, rows])).T * d.scale
        return ((b if rows is None else b[rows]) @ a) * d.scale

    def _apply(self, name: str, rows: slice | None) -> torch.Tensor:
        edit = self.edits[name]
        dtype, out_dtype = self._compute_dtype(name), self.infos[name].dtype
        if edit.replace is not None:
            w = self.adapter.file.read(edit.replace)
            w = w if rows is None else w[rows]
        else:
            w = self.base.read(name) if rows is None else self.base.read_rows(name, rows)
        if edit.delta is None:
            return w.to(out_dtype)
        return (w.to(dtype) + self._delta(edit, dtype, rows)).to(out_dtype)

    def read(self, name: str) -> torch.Tensor:
        if name not in self.edits:
            return self.base.read(name)
        return self._apply(name, None)

    def read_rows(self, name: str, start: int, stop: int) -> torch.Tensor:
        """Rows [start, stop) of the first dimension."""
        if name not in self.edits:
            return self.base.read_rows(name, slice(start, stop))
        if not self.infos[name].shape:
            return self.read(name)
        return self._apply(name, slice(start, stop))

    def close(self) -> None:
        self.adapter.close()
        self.base.close()


def apply_lora(base: Checkpoint, adapter_folder: Path, label: str) -> Checkpoint:
    """`base` with the PEFT adapter in `adapter_folder` applied as its tensors are read. Metadata only: nothing
    is computed before a tensor is read. The result owns `base` (closing it closes the base); on error the caller
    still owns it."""
    adapter = LoraAdapter(adapter_folder)
    try:
        applied = LoraAppliedFile(base, adapter)
    except BaseException:
        adapter.close()
        raise
    return Checkpoint(
        label,
        [applied],
        base.path,
        config=base.config,
        planned_vocab=base.planned_vocab,
        extra_sources=(*base.extra_sources, Path(adapter_folder)),
    )
