"""Where a model's weights live: a Hugging Face folder (single or sharded, safetensors or pickle) or one file."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath, PureWindowsPath

from modelfusion.checkpoint.formats import FORMAT_SUFFIXES
from modelfusion.checkpoint.lora_adapter import refuse_adapter
from modelfusion.errors import CheckpointError

SAFE_INDEX = "model.safetensors.index.json"
SAFE_SINGLE = "model.safetensors"
BIN_INDEX = "pytorch_model.bin.index.json"
BIN_SINGLE = "pytorch_model.bin"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")

MAX_INDEX_BYTES = 64 * 1024 * 1024


def _no_duplicate_keys(where: str):
    def hook(pairs: list[tuple[str, object]]) -> dict:
        seen: dict[str, object] = {}
        for key, value in pairs:
            if key in seen:
                raise CheckpointError(f"names '{key}' twice", where=where)
            seen[key] = value
        return seen

    return hook


def read_index(index_path: Path) -> dict[str, Path]:
    """Parse a sharded index: tensor name -> shard file. Shards must be weight files inside the model folder.

    The check is on the path as written ('../x', '/abs/x' and 'a/../../x' are refused); a shard that is a
    symlink (as in the Hugging Face cache, where files link to ../../blobs/) is followed.
    """
    where = str(index_path)
    try:
        if index_path.stat().st_size > MAX_INDEX_BYTES:
            raise CheckpointError("index file is implausibly large", where=where)
        text = index_path.read_text(encoding="utf-8")
    except OSError as e:
        raise CheckpointError(f"cannot read: {e.strerror or e}", where=where) from None
    except UnicodeDecodeError as e:
        raise CheckpointError(f"not valid JSON ({e})", where=where) from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys(where))
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, over-long integers
        raise CheckpointError(f"not valid JSON ({e})", where=where) from None
    except RecursionError:
        raise CheckpointError("not valid JSON (nested too deeply)", where=where) from None
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError("has no 'weight_map' object", where=where)
    folder = index_path.parent.resolve()
    shards: dict[str, Path] = {}
    for name, shard in weight_map.items():
        if not isinstance(shard, str) or not shard:
            raise CheckpointError(f"tensor '{name}' maps to {shard!r}, not a file name", where=where)
        relative = PurePosixPath(shard.replace("\\", "/"))
        if relative.is_absolute() or ".." in relative.parts or PureWindowsPath(shard).drive:
            raise CheckpointError(f"tensor '{name}' points outside the model folder: {shard}", where=where)
        if relative.suffix not in WEIGHT_SUFFIXES:
            raise CheckpointError(f"tensor '{name}' is in '{shard}', which is not a weight file", where=where)
        target = folder.joinpath(*relative.parts)
        if not target.is_file():
            raise CheckpointError(f"tensor '{name}' is in shard '{shard}', which does not exist", where=where)
        shards[name] = target
    return shards


def weight_files(path: Path) -> tuple[list[Path], dict[str, Path] | None]:
    """The weight files of `path` in reading order, and the index's name -> file map if sharded. A PEFT adapter
    folder (or its weight file) is refused with the form that applies it to its base."""
    refuse_adapter(path)
    if path.is_file():
        known = WEIGHT_SUFFIXES + FORMAT_SUFFIXES
        if path.suffix not in known:
            raise CheckpointError(
                f"unsupported file type '{path.suffix}' (expected one of {', '.join(known)})",
                where=str(path),
            )
        return [path], None
    if not path.is_dir():
        raise CheckpointError("no such file or folder", where=str(path))
    for index_name in (SAFE_INDEX, BIN_INDEX):
        index = path / index_name
        if index.is_file():
            name_to_file = read_index(index)
            files = sorted(set(name_to_file.values()))
            return files, name_to_file
    for single in (SAFE_SINGLE, BIN_SINGLE):
        if (path / single).is_file():
            return [path / single], None
    loose = sorted(p for p in path.iterdir() if p.suffix == ".safetensors")
    if len(loose) == 1:
        return loose, None
    raise CheckpointError(
        f"no weights found (looked for {SAFE_INDEX}, {SAFE_SINGLE}, {BIN_INDEX}, {BIN_SINGLE})", where=str(path)
    )
