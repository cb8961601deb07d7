"""What can be known about a model without reading any tensor data: config, tensor metadata, tokenizer files."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from modelfusion.analysis.module_kind import module_kind
from modelfusion.checkpoint import Checkpoint
from modelfusion.checkpoint.companions import TOKENIZER_FILES

MAX_HASHED_BYTES = 512 * 1024 * 1024
KEY_CONFIG_FIELDS = (
    "architectures",
    "model_type",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "tie_word_embeddings",
    "torch_dtype",
    "dtype",
)


def _sha256(path: Path) -> str | None:
    if path.stat().st_size > MAX_HASHED_BYTES:
        return None
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ModelFacts:
    label: str
    path: str | None
    config: dict | None
    tensors: int
    parameters: int
    """Elements of all float tensors (what a merge combines)."""
    elements: int
    """Elements of all tensors, integer buffers included."""
    nbytes: int
    dtypes: dict[str, int]
    """dtype -> number of tensors."""
    embedding_rows: int | None
    """Rows of the largest 2-D embedding tensor: the vocabulary the weights actually hold."""
    tokenizer_files: dict[str, str | None] = field(default_factory=dict)
    """File name -> sha256 (None when too large to hash) for the tokenizer files present."""
    file_format: str | None = None
    """A lone file of another format (GGUF, ONNX, Keras, RVC, PyTorch checkpoint): what it is, for the report."""

    @property
    def vocab_size(self) -> int | None:
        value = (self.config or {}).get("vocab_size")
        return value if isinstance(value, int) else None

    @property
    def architecture(self) -> str:
        config = self.config or {}
        arch = config.get("architectures")
        if isinstance(arch, list) and arch:
            return ", ".join(map(str, arch))
        return str(config.get("model_type", self.file_format or "unknown (no config.json)"))

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "path": self.path,
            "architecture": self.architecture,
            "tensors": self.tensors,
            "parameters": self.parameters,
            "elements": self.elements,
            "bytes": self.nbytes,
            "dtypes": self.dtypes,
            "vocab_size": self.vocab_size,
            "embedding_rows": self.embedding_rows,
            "tokenizer_files": self.tokenizer_files,
        }


def model_facts(ckpt: Checkpoint) -> ModelFacts:
    """Facts of an opened checkpoint from its metadata and the small files beside it (no tensor is read)."""
    infos = ckpt.infos.values()
    embeddings = [i for i in infos if len(i.shape) == 2 and module_kind(i.name) == "embedding"]
    folder = ckpt.folder
    tokenizer = {}
    if folder is not None:
        tokenizer = {name: _sha256(folder / name) for name in TOKENIZER_FILES if (folder / name).is_file()}
    return ModelFacts(
        label=ckpt.label,
        path=str(ckpt.path) if ckpt.path else None,
        config=ckpt.config,
        tensors=len(ckpt.infos),
        parameters=sum(i.numel for i in infos if i.dtype.is_floating_point),
        elements=sum(i.numel for i in infos),
        nbytes=ckpt.nbytes,
        dtypes=dict(Counter(str(i.dtype).removeprefix("torch.") for i in infos)),
        embedding_rows=max((i.shape[0] for i in embeddings), default=None),
        tokenizer_files=tokenizer,
        file_format=_file_format(ckpt),
    )


def _file_format(ckpt: Checkpoint) -> str | None:
    """What a lone weight file of a format beyond safetensors is (None for folders and safetensors)."""
    if len(ckpt.files) != 1:
        return None
    file = ckpt.files[0]
    compat = getattr(file, "compat", None) or {}
    if "GGUF architecture" in compat:
        return f"GGUF ({compat['GGUF architecture']})"
    if "RVC sr" in compat:
        return f"RVC {compat.get('RVC version')} voice model ({compat['RVC sr']}, f0={compat.get('RVC f0')})"
    kinds = {"OnnxFile": "ONNX graph", "KerasFile": "Keras weights", "PickleFile": "PyTorch checkpoint"}
    return kinds.get(type(file).__name__)


def config_rows(facts: list[ModelFacts]) -> list[tuple[str, list[str], bool]]:
    """(key, value per model, differs) for the key fields and every other key whose value differs."""
    configs = [f.config or {} for f in facts]
    keys = [k for k in KEY_CONFIG_FIELDS if any(k in c for c in configs)]
    others = sorted({k for c in configs for k in c} - set(keys))
    rows = []
    for key in keys + others:
        values = [json.dumps(c[key]) if key in c else "-" for c in configs]
        differs = len(set(values)) > 1
        if key in keys or differs:
            rows.append((key, values, differs))
    return rows
