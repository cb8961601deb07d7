"""Loading a Hugging Face model folder for calibration: offline, float32, eval mode, with the class its
config.json names (so parameter and module names match the checkpoint's tensor names)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from modelfusion.errors import UserError

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def load_model(folder: str | Path) -> nn.Module:
    """The folder's model: `config.architectures[0]` from transformers if it has one, else AutoModelForCausalLM;
    loaded with local_files_only (never the network), float32, eval mode."""
    try:
        import transformers
    except ImportError as e:
        raise UserError("calibrating a model folder needs transformers: pip install 'modelfusion[hf]'") from e
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise UserError("not a Hugging Face model folder (no config.json)", str(folder))
    architectures = json.loads(config_path.read_text()).get("architectures") or []
    cls = getattr(transformers, architectures[0], None) if architectures else None
    cls = cls or transformers.AutoModelForCausalLM
    try:
        model = cls.from_pretrained(str(folder), local_files_only=True, torch_dtype=torch.float32)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot load the model with transformers: {e}", str(folder)) from e
    return model.eval()


def load_tokenizer(folder: str | Path) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot load the model's tokenizer: {e}", str(folder)) from e


def folder_identity(folder: str | Path) -> str:
    """sha256 of the config and every weight file's name, size and modification time (not their bytes: a
    changed file changes its size or time)."""
    folder = Path(folder)
    h = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.name == "config.json" or path.suffix in WEIGHT_SUFFIXES or path.name.endswith(".index.json"):
            stat = path.stat()
            h.update(f"{path.name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()


def module_identity(model: nn.Module) -> str:
    """sha256 of an in-memory module's state dict (names, dtypes, shapes, bytes)."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()
