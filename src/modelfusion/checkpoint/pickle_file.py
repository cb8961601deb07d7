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


RVC_MARKERS = ("config", "sr", "f0", "version")
SPEAKER_EMBEDDING = "emb_g.weight"
"""RVC's speaker embedding: one row per speaker id (config[-3], spk_embed_dim, is its row count)."""


def is_rvc(root: object) -> bool:
    """RVC WebUI's .pth: a `weight` dict of tensors with at least one of config / sr / f0 / version beside it."""
    return isinstance(root, dict) and isinstance(root.get("weight"), dict) and any(k in root for k in RVC_MARKERS)


def rvc_problem(root: object) -> str | None:
    """Why a file that looks like an RVC voice model is not one RVC WebUI could load (None if it is fine or not
    RVC at all). `version` may be missing (RVC v1 files have none; RVC reads them as v1)."""
    if not is_rvc(root):
        return None
    config, weight = root.get("config"), root["weight"]
    if not isinstance(config, list) or len(config) < 3 or type(config[-3]) is not int:
        return "an RVC voice model whose 'config' is missing or not RVC's list (spk_embed_dim at config[-3])"
    if not isinstance(root.get("sr"), str) or root.get("f0") not in (0, 1) or type(root.get("f0")) is not int:
        return "an RVC voice model without a valid 'sr' (e.g. '40k') and 'f0' (0 or 1)"
    if not isinstance(root.get("version", "v1"), str):
        return "an RVC voice model whose 'version' is not a string"
    emb = weight.get(SPEAKER_EMBEDDING)
    if not isinstance(emb, torch.Tensor) or emb.dim() != 2:
        return f"an RVC voice model without a 2-D speaker embedding '{SPEAKER_EMBEDDING}'"
    return None


def rvc_compat(root: object) -> dict[str, object]:
    """What two RVC voice models must share ({} for other checkpoints): RVC WebUI's .pth is `{"weight": {...},
    "config": [...], "info", "sr", "f0", "version"}`; config[-3] is the speaker count (spk_embed_dim), which may
    differ (emb_g.weight is then truncated to the smaller count, modelfusion.checkpoint.format_checks)."""
    if not is_rvc(root):
        return {}
    config = root["config"]
    arch = config[:-3] + config[-2:] if len(config) >= 3 else config
    keys = ("sr", "f0")
    return {
        "RVC architecture (config)": arch,
        **{f"RVC {k}": root.get(k) for k in keys},
        "RVC version": root.get("version", "v1"),
    }


def _unpickling_reason(message: str) -> str:
    """The specific reason in torch's weights-only refusal (`Unsupported global: GLOBAL builtins.open`,
    `Unsupported operand 139` for random bytes), not its generic first paragraph."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if "WeightsUnpickler error:" in line:
            rest = line.split("WeightsUnpickler error:", 1)[1].strip()
            reason = rest or (lines[i + 1] if i + 1 < len(lines) else "")
            if reason:
                return reason[:200]
    return lines[0][:200] if lines else "unsafe pickle"


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
            first = _unpickling_reason(str(e))
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
        problem = rvc_problem(obj)
        if problem is not None:
            raise CheckpointError(f"refused: {problem}", where=str(self.path))
        self.root = obj
        self.compat = rvc_compat(obj)
        self.rvc = bool(self.compat)
        self.speaker_rows: int | None = None
        self.speaker_counts: dict[str, int] = {}
        for name, t in state.items():
            if t.layout != torch.strided or t.dtype not in TORCH_TO_SAFETENSORS or t.is_quantized:
                raise CheckpointError(
                    f"tensor '{name}' is a {t.layout} {t.dtype} tensor; only dense tensors of the "
                    f"dtypes {', '.join(TORCH_TO_SAFETENSORS.values())} can be merged",
                    where=str(self.path),
                )
        return state

    def limit_speakers(self, rows: int, counts: dict[str, int]) -> None:
        """Expose only the first `rows` speakers of an RVC model's speaker embedding, as RVC WebUI's ckpt merge
        does for models with different speaker counts (`counts`: each model's, for the model card); the output's
        config[-3] follows."""
        info = self.infos[SPEAKER_EMBEDDING]
        self.speaker_rows, self.speaker_counts = rows, dict(counts)
        self.infos[SPEAKER_EMBEDDING] = TensorInfo(info.name, (rows, *info.shape[1:]), info.dtype, info.file)

    @property
    def speakers(self) -> int | None:
        """The speaker count of an RVC model as stored (emb_g.weight's rows, before any limit_speakers)."""
        emb = self._tensors.get(SPEAKER_EMBEDDING) if self.rvc else None
        return int(emb.shape[0]) if emb is not None else None

    def read(self, name: str) -> torch.Tensor:
        if name == SPEAKER_EMBEDDING and self.speaker_rows is not None:
            return self._tensors[name][: self.speaker_rows]
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
        out = rebuild(self.root, self.tree, tensors)
        notes = []
        emb = tensors.get(SPEAKER_EMBEDDING) if self.rvc else None
        if emb is not None and emb.dim() == 2:
            out["config"][-3] = int(emb.shape[0])  # type: ignore[index]  # RVC builds emb_g from it
        if emb is not None and self.speaker_counts:
            counts = ", ".join(f"{Path(m).name}: {n}" for m, n in self.speaker_counts.items())
            notes.append(
                f"`{SPEAKER_EMBEDDING}` holds {emb.shape[0]} speakers: the models' speaker counts differ ({counts}) "
                "and, as in RVC WebUI's ckpt merge, the speaker embedding was truncated to the smallest count "
                f"(speaker ids {emb.shape[0]} and above are gone); `config[-3]` (spk_embed_dim) is {emb.shape[0]}."
            )
        torch.save(out, dest)
        if self.tree.dropped:
            notes.append(
                f"Dropped from the output: `{'`, `'.join(self.tree.dropped)}` (training state of the base model "
                f"{self.path.name}; it does not fit the merged weights)."
            )
        return notes
