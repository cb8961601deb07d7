"""PyTorch pickle checkpoints (.bin / .pt / .pth), loaded only with torch.load(weights_only=True).

weights_only=True refuses any pickle that would construct arbitrary objects (and so run code); mmap=True
maps tensor storages instead of reading them when the file is in the zip format.
"""

from __future__ import annotations

import pickle
import threading
import warnings
import zipfile
from pathlib import Path

import torch

from modelfusion.checkpoint.dtypes import TORCH_TO_SAFETENSORS
from modelfusion.checkpoint.tensor_info import TensorInfo
from modelfusion.checkpoint.torch_tree import TensorTree, read_tree, rebuild
from modelfusion.errors import CheckpointError

SAFE_TORCH = (2, 6)
"""torch.load(weights_only=True) could still run code before torch 2.6 (CVE-2025-32434)."""


def _require_safe_torch(path: Path) -> None:
    version = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2] if p.isdigit())
    if version < SAFE_TORCH:
        raise CheckpointError(
            f"refused: torch {torch.__version__} cannot load pickles safely (torch >= 2.6 needed); "
            "upgrade torch or convert the file to safetensors",
            where=str(path),
        )


def rvc_compat(root: object) -> dict[str, object]:
    """What two RVC voice models must share ({} for other checkpoints): RVC WebUI's .pth is `{"weight": {...},
    "config": [...], "info", "sr", "f0", "version"}`; config[-3] is the speaker count (spk_embed_dim), which may
    differ (emb_g.weight's shape then differs, reported by the plan)."""
    if not (isinstance(root, dict) and isinstance(root.get("weight"), dict) and isinstance(root.get("config"), list)):
        return {}
    config = root["config"]
    arch = config[:-3] + config[-2:] if len(config) >= 3 else config
    keys = ("sr", "f0", "version")
    return {"RVC architecture (config)": arch, **{f"RVC {k}": root.get(k) for k in keys}}


class PickleFile:
    """A weights-only torch pickle. Metadata comes from the mapped tensors, so no data is read on open.

    `root` is the loaded object and `tree` where its tensors sit (modelfusion.checkpoint.torch_tree): the
    output is written in the same layout from them."""

    root: object
    tree: TensorTree

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        state = self._load()
        self._tensors = state
        self.infos = {
            name: TensorInfo(name=name, shape=tuple(t.shape), dtype=t.dtype, file=str(self.path))
            for name, t in state.items()
        }

    def _load(self) -> dict[str, torch.Tensor]:
        _require_safe_torch(self.path)
        try:
            mmap_ok = zipfile.is_zipfile(self.path)
            with warnings.catch_warnings():
                # torch warns about unusual pickle protocols before refusing or loading; our error says it all
                warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
                obj = torch.load(self.path, map_location="cpu", weights_only=True, mmap=mmap_ok)
        except pickle.UnpicklingError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else "unsafe pickle"
            raise CheckpointError(
                f"refused: this pickle is not a plain weights file and loading it could run code ({first})",
                where=str(self.path),
            ) from None
        except Exception as e:  # a hostile or broken file can fail in many ways inside torch.load
            detail = (str(e).strip().splitlines() or [""])[0][:200]
            raise CheckpointError(
                f"cannot load PyTorch checkpoint (corrupt or truncated?): {type(e).__name__}: {detail}",
                where=str(self.path),
            ) from None
        found = read_tree(obj)
        if isinstance(found, str):
            raise CheckpointError(found, where=str(self.path))
        state, self.tree = found
        self.root = obj
        self.compat = rvc_compat(obj)
        for name, t in state.items():
            if t.layout != torch.strided or t.dtype not in TORCH_TO_SAFETENSORS or t.is_quantized:
                raise CheckpointError(
                    f"tensor '{name}' is a {t.layout} {t.dtype} tensor; only dense tensors of the "
                    f"dtypes {', '.join(TORCH_TO_SAFETENSORS.values())} can be merged",
                    where=str(self.path),
                )
        return state

    def read(self, name: str) -> torch.Tensor:
        return self._tensors[name]

    def close(self) -> None:
        self._tensors = {}
        self.root = None

    @property
    def native_name(self) -> str:
        """The output file name in this file's layout."""
        return f"model{self.path.suffix}"

    def write_native(self, dest: Path, tensors: dict[str, torch.Tensor]) -> list[str]:
        """Write `tensors` in this file's layout (nesting, `module.` prefixes, non-tensor entries) to `dest`;
        returns notes for the model card."""
        if self.root is None:
            raise RuntimeError(f"{self.path} is closed")
        torch.save(rebuild(self.root, self.tree, tensors), dest)
        if not self.tree.dropped:
            return []
        return [
            f"Dropped from the output: `{'`, `'.join(self.tree.dropped)}` (training state of the base model "
            f"{self.path.name}; it does not fit the merged weights)."
        ]
