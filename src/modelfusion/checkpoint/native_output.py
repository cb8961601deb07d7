"""The output in the base model's own format (`--out-format same`): a lone .pth stays a .pth, a Keras
.weights.h5 an .h5, an .onnx an .onnx, a .gguf a .gguf.

The merge always writes safetensors shards into the staging folder first (streamed, journaled, resumable);
this step then rewrites them in the base's format, inside the same staging folder, before the atomic publish.
A Hugging Face folder (safetensors or pytorch_model.bin) is always written as a safetensors folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file

from modelfusion.errors import UserError

if TYPE_CHECKING:
    from modelfusion.checkpoint.checkpoint import Checkpoint

OUT_FORMATS = ("same", "safetensors")
SAFETENSORS_FILES = ("model.safetensors.index.json",)


def check_out_format(value: str) -> str:
    if value not in OUT_FORMATS:
        raise UserError(f"unknown output format {value!r} (expected {' or '.join(OUT_FORMATS)})", where="--out-format")
    return value


def native_writer(base: Checkpoint | None):
    """The tensor file whose format the output keeps, or None when the output is a safetensors folder: the
    base must be one lone file (not a Hugging Face folder) of a format with a writer."""
    if base is None or base.path is None or not base.path.is_file() or len(base.files) != 1:
        return None
    file = base.files[0]
    return file if hasattr(file, "write_native") else None


def write_native(base: Checkpoint | None, staging: Path, shard_names: list[str]) -> list[str]:
    """Replace the safetensors shards in `staging` by one file in the base's format; returns notes for the
    model card (what was dropped or converted). Does nothing when the base has no native writer."""
    writer = native_writer(base)
    if writer is None:
        return []
    tensors: dict[str, torch.Tensor] = {}
    for name in shard_names:
        tensors.update(load_file(staging / name))
    notes = writer.write_native(staging / writer.native_name, tensors)
    for name in (*shard_names, *SAFETENSORS_FILES):
        (staging / name).unlink(missing_ok=True)
    return notes


def append_notes(staging: Path, notes: list[str]) -> None:
    """Add the format notes to the model card (README.md), if one is written."""
    card = staging / "README.md"
    if not notes or not card.is_file():
        return
    text = card.read_text(encoding="utf-8").rstrip("\n")
    card.write_text(text + "\n\n## Output format\n\n" + "\n".join(f"- {n}" for n in notes) + "\n", encoding="utf-8")
