"""Lay out output shards from a plan: which tensor goes in which file, at which offset.

Because shapes and dtypes are known before any data exists, every safetensors header can be written first
and each tensor written later at its own offset, by any thread, in any order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from modelfusion.checkpoint.dtypes import TORCH_TO_SAFETENSORS
from modelfusion.checkpoint.tensor_info import TensorInfo
from modelfusion.errors import UserError

DEFAULT_SHARD_BYTES = 5 * 1000**3
_SIZE_UNITS = {
    "": 1,
    # mergekit's spellings (`parse_kmb`): thousands, millions, billions (`5B` = 5e9, compared with bytes)
    "K": 1000,
    "M": 1000**2,
    "B": 1000**3,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
    "TIB": 1024**4,
}


def parse_size(text: str | int) -> int:
    """A shard size in bytes: a number of bytes, mergekit's K / M / B suffixes (thousand, million, billion:
    '5B' -> 5_000_000_000, as `mergekit-yaml --out-shard-size 5B`), or a byte unit ('5GB' -> 5_000_000_000,
    '500MiB' -> 524_288_000). Case does not matter."""
    if isinstance(text, bool):
        raise UserError(f"cannot read size {text!r}", where="--out-shard-size")
    if isinstance(text, int):
        value = text
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", text)
        if not m or m.group(2).upper() not in _SIZE_UNITS:
            raise UserError(
                f"cannot read size {text!r} (examples: 5B = 5e9 bytes as in mergekit, 5GB, 500MB, 2GiB)",
                where="--out-shard-size",
            )
        value = int(float(m.group(1)) * _SIZE_UNITS[m.group(2).upper()])
    if value <= 0:
        raise UserError(f"size must be positive, got {text!r}", where="--out-shard-size")
    return value


@dataclass(frozen=True)
class Placement:
    shard: int
    offset: int
    """Absolute byte offset of the tensor's data in its shard file."""
    nbytes: int


@dataclass
class Shard:
    filename: str
    header: bytes
    size: int
    names: list[str]


def _header_bytes(entries: list[tuple[TensorInfo, int, int]]) -> bytes:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    for info, begin, end in entries:
        header[info.name] = {
            "dtype": TORCH_TO_SAFETENSORS[info.dtype],
            "shape": list(info.shape),
            "data_offsets": [begin, end],
        }
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return len(raw).to_bytes(8, "little") + raw


class ShardLayout:
    """Greedy packing of tensors in plan order into shards of at most `max_shard_bytes` of data."""

    def __init__(self, tensors: list[TensorInfo], max_shard_bytes: int = DEFAULT_SHARD_BYTES) -> None:
        groups: list[list[TensorInfo]] = [[]]
        used = 0
        for info in tensors:
            if groups[-1] and used + info.nbytes > max_shard_bytes:
                groups.append([])
                used = 0
            groups[-1].append(info)
            used += info.nbytes
        n = len(groups)
        self.shards: list[Shard] = []
        self.placements: dict[str, Placement] = {}
        for i, group in enumerate(groups):
            filename = "model.safetensors" if n == 1 else f"model-{i + 1:05d}-of-{n:05d}.safetensors"
            spans, pos = [], 0
            for info in group:
                spans.append((info, pos, pos + info.nbytes))
                pos += info.nbytes
            header = _header_bytes(spans)
            for info, begin, end in spans:
                self.placements[info.name] = Placement(i, len(header) + begin, end - begin)
            self.shards.append(Shard(filename, header, len(header) + pos, [s[0].name for s in spans]))
        self.total_bytes = sum(s.size for s in self.shards)

    def index_json(self) -> str | None:
        """The Hugging Face index for a sharded output, None when there is one shard."""
        if len(self.shards) == 1:
            return None
        weight_map = {name: s.filename for s in self.shards for name in s.names}
        data_size = sum(p.nbytes for p in self.placements.values())
        return json.dumps({"metadata": {"total_size": data_size}, "weight_map": weight_map}, indent=2)
