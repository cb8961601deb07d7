"""An opened checkpoint: names, shapes, dtypes and config without tensor data; tensors read one at a time."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import torch

from modelfusion.checkpoint.formats import open_format_file
from modelfusion.checkpoint.layout import weight_files
from modelfusion.checkpoint.pickle_file import PickleFile
from modelfusion.checkpoint.safetensors_file import SafetensorsFile
from modelfusion.checkpoint.tensor_info import TensorInfo
from modelfusion.errors import CheckpointError

if TYPE_CHECKING:
    from modelfusion.checkpoint.tokenizer_files import Vocab


class TensorFile(Protocol):
    infos: Mapping[str, TensorInfo]

    def read(self, name: str) -> torch.Tensor: ...

    def close(self) -> None: ...


class StateDictSource:
    """An in-memory state dict seen through the same interface as a file."""

    def __init__(self, state: Mapping[str, torch.Tensor], label: str) -> None:
        self._state = state
        self.infos = {n: TensorInfo(name=n, shape=tuple(t.shape), dtype=t.dtype, file=label) for n, t in state.items()}

    def read(self, name: str) -> torch.Tensor:
        return self._state[name]

    def close(self) -> None:
        pass


def _open_file(path: Path) -> TensorFile:
    if path.suffix == ".safetensors":
        return SafetensorsFile(path)
    other = open_format_file(path)  # Keras, ONNX, GGUF
    return other if other is not None else PickleFile(path)


class Checkpoint:
    """A model's weights. `infos` maps tensor name -> TensorInfo; `read(name)` returns the tensor.

    `config` is read from the folder's config.json unless given; `planned_vocab` is the vocabulary of an output
    that is planned but not written yet (a multi-stage recipe's earlier stage), None for a checkpoint on disk;
    `extra_sources` are files or folders besides the tensor files that determine its tensors (a LoRA adapter
    folder applied on the fly): they identify the checkpoint in resume journals, and no output goes inside them.
    """

    def __init__(
        self,
        label: str,
        files: list[TensorFile],
        path: Path | None = None,
        *,
        config: dict | None = None,
        planned_vocab: Vocab | None = None,
        extra_sources: tuple[Path, ...] = (),
    ) -> None:
        self.label = label
        self.extra_sources = extra_sources
        self.path = path
        self.files = files
        self._owner: dict[str, TensorFile] = {}
        self.infos: dict[str, TensorInfo] = {}
        for f in files:
            for name, info in f.infos.items():
                if name in self.infos:
                    raise CheckpointError(
                        f"tensor '{name}' appears in two weight files: {self.infos[name].file} and {info.file}",
                        where=label,
                    )
                self.infos[name] = info
                self._owner[name] = f
        self.config: dict | None = config if config is not None else self._read_config()
        self.planned_vocab: Vocab | None = planned_vocab

    @property
    def folder(self) -> Path | None:
        if self.path is None:
            return None
        return self.path if self.path.is_dir() else None

    def _read_config(self) -> dict | None:
        folder = self.folder
        if folder is None or not (folder / "config.json").is_file():
            return None
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, too deep
            raise CheckpointError(f"config.json is not valid JSON ({e})", where=str(folder)) from None
        if not isinstance(config, dict):
            raise CheckpointError("config.json is not a JSON object", where=str(folder))
        return config

    def read(self, name: str) -> torch.Tensor:
        try:
            return self._owner[name].read(name)
        except KeyError:
            raise CheckpointError(f"has no tensor '{name}'", where=self.label) from None

    def read_rows(self, name: str, rows: slice) -> torch.Tensor:
        """Rows `rows` (a step-1 slice) of the first dimension: a partial read where the file allows it
        (safetensors), else a view of the whole tensor (pickle files and state dicts are held in memory)."""
        owner = self._owner.get(name)
        if owner is None:
            raise CheckpointError(f"has no tensor '{name}'", where=self.label)
        read_rows = getattr(owner, "read_rows", None)  # SafetensorsFile, LoraAppliedFile
        if read_rows is not None:
            start, stop, _ = rows.indices(self.infos[name].shape[0])
            return read_rows(name, start, stop)
        return owner.read(name)[rows]

    def source_files(self) -> list[str]:
        """Every file its tensors come from: the tensor files (sorted), then `extra_sources` (a folder's files)."""
        files = sorted({info.file for info in self.infos.values()})
        for src in self.extra_sources:
            inside = sorted(p for p in src.iterdir() if p.is_file()) if src.is_dir() else [src]
            files += [str(p) for p in inside if str(p) not in files]
        return files

    @property
    def nbytes(self) -> int:
        return sum(i.nbytes for i in self.infos.values())

    def close(self) -> None:
        for f in self.files:
            f.close()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Checkpoint({self.label!r}, {len(self.infos)} tensors)"


def open_checkpoint(source: str | Path | Mapping[str, torch.Tensor], label: str | None = None) -> Checkpoint:
    """Open a model folder, a weight file, or an in-memory state dict. Reads metadata only."""
    if isinstance(source, Mapping):
        bad = [k for k, v in source.items() if not isinstance(v, torch.Tensor)]
        if bad:
            raise CheckpointError(f"state dict entry '{bad[0]}' is not a tensor", where=label or "state dict")
        name = label or "state dict"
        return Checkpoint(name, [StateDictSource(source, name)])
    path = Path(source)
    files, name_to_file = weight_files(path)
    opened: list[TensorFile] = []
    try:
        for f in files:
            opened.append(_open_file(f))
        checkpoint = Checkpoint(label or str(path), opened, path)  # refuses a tensor held by two files
        if name_to_file is not None:
            _check_index_matches(path, name_to_file, opened)
        return checkpoint
    except BaseException:
        for f in opened:
            f.close()
        raise


def _check_index_matches(folder: Path, name_to_file: dict[str, Path], opened: list[TensorFile]) -> None:
    present = {name: Path(info.file).resolve() for f in opened for name, info in f.infos.items()}
    for name, file in name_to_file.items():
        if present.get(name) != file.resolve():
            raise CheckpointError(
                f"index lists '{name}' in {file.name}, but that shard does not hold it", where=str(folder)
            )
