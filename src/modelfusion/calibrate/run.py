"""`calibrate`: run calibration data through one model and write its statistics file, or find it cached.

The file holds `gram:<weight>` and / or `fisher:<param>` entries (gram.py, fisher.py), exactly what a recipe's
`statistics:` key gives the data-aware methods (methods/statistics.py). Its metadata keeps a cache key: the
model's identity (a folder's config and weight files' names, sizes and times; a module's state-dict bytes), the
data's hash and the options that change values; a second call with the same key reads nothing and returns.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from torch import nn

from modelfusion.calibrate.data import Batch, as_batches, data_hash, text_batches
from modelfusion.calibrate.fisher import fisher_statistics
from modelfusion.calibrate.gram import gram_entry, gram_passes, gram_statistics, linear_layers
from modelfusion.calibrate.hf_model import folder_identity, load_model, load_tokenizer, module_identity
from modelfusion.calibrate.stats_file import KEY, StatsWriter, cached_key, refuse_inside
from modelfusion.errors import UserError

STATISTICS = ("gram", "fisher")
FORMAT_VERSION = 1
Progress = Callable[[int, int], None]
"""progress(done, total): batches run so far, over every pass."""


@dataclass(frozen=True)
class CalibrationResult:
    path: Path
    key: str
    cached: bool
    entries: int
    batches: int


def default_out(folder: Path) -> Path:
    """`<folder>.stats.safetensors` next to the model folder (inside it, it would be read as a shard)."""
    return folder.parent / f"{folder.name}.stats.safetensors"


def _batches(data: Any, folder: Path | None, batch_size: int, max_length: int, examples: int | None) -> list[Batch]:
    if isinstance(data, (str, Path)):
        if folder is None:
            raise UserError("a text file needs a model folder (for its tokenizer); give tokenized batches instead")
        return text_batches(
            data, load_tokenizer(folder), batch_size=batch_size, max_length=max_length, examples=examples
        )
    return as_batches(data)


def calibrate(
    model: str | Path | nn.Module,
    data: Iterable[Any] | str | Path,
    out: str | Path | None = None,
    *,
    stats: Sequence[str] = ("gram",),
    fisher_labels: Literal["sampled", "given"] = "sampled",
    shift_labels: bool = True,
    seed: int = 0,
    batch_size: int = 8,
    max_length: int = 128,
    examples: int | None = None,
    max_gram_bytes: int = 1 << 30,
    device: str = "cpu",
    force: bool = False,
    progress: Progress | None = None,
) -> CalibrationResult:
    """Compute `stats` ("gram", "fisher") of `model` (an HF folder or an nn.Module) on `data` (an iterable of
    batches: dicts of tensors, tensors, (inputs, labels) pairs; or a text file, one example a line, tokenized
    with the folder's tokenizer) and write them to `out` (default `<folder>.stats.safetensors`).

    fisher_labels: "sampled" from the model's prediction (true Fisher) or the batches' "given" labels
    (empirical Fisher). Returns where the file is and whether it was already there (same cache key).
    """
    unknown = sorted(set(stats) - set(STATISTICS))
    if unknown or not stats:
        raise UserError(f"unknown statistics {unknown or '(none)'}; choose from {', '.join(STATISTICS)}")
    folder = None if isinstance(model, nn.Module) else Path(model)
    if out is None:
        if folder is None:
            raise UserError("calibrating an in-memory module needs an output path")
        out = default_out(folder)
    out = Path(out)
    refuse_inside(out, folder)
    batches = _batches(data, folder, batch_size, max_length, examples)
    options = {"stats": sorted(set(stats)), "fisher_labels": fisher_labels, "shift_labels": shift_labels}
    if "fisher" in stats and fisher_labels == "sampled":
        options["seed"] = seed
    identity = folder_identity(folder) if folder is not None else module_identity(model)  # type: ignore[arg-type]
    record = {"format": FORMAT_VERSION, "model": identity, "data": data_hash(batches), **options}
    key = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
    if not force and cached_key(out) == key:
        from safetensors import safe_open

        with safe_open(str(out), framework="pt") as f:
            return CalibrationResult(out, key, True, len(list(f.keys())), len(batches))
    module = load_model(folder) if folder is not None else model
    module = module.to(device).eval()  # type: ignore[union-attr]
    return _compute(module, batches, out, key, stats, fisher_labels, shift_labels, seed, max_gram_bytes, progress)


def _compute(
    model: nn.Module,
    batches: list[Batch],
    out: Path,
    key: str,
    stats: Sequence[str],
    fisher_labels: str,
    shift_labels: bool,
    seed: int,
    max_gram_bytes: int,
    progress: Progress | None,
) -> CalibrationResult:
    shapes: dict[str, tuple[int, ...]] = {}
    if "gram" in stats:
        shapes.update({gram_entry(n): (m.in_features, m.in_features) for n, m in linear_layers(model)})
    if "fisher" in stats:
        shapes.update({f"fisher:{n}": tuple(p.shape) for n, p in model.named_parameters() if p.requires_grad})
    if not shapes:
        raise UserError("the model has no linear layer (gram) and no trainable parameter (fisher)")
    total = len(batches) * (("gram" in stats) * gram_passes(model, max_gram_bytes) + ("fisher" in stats))
    done = [0]

    def step(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], total)

    writer = StatsWriter(out, shapes, {KEY: key, "format": "modelfusion-statistics"})
    try:
        if "gram" in stats:
            gram_statistics(model, batches, writer.write, max_bytes=max_gram_bytes, progress=step)
        if "fisher" in stats:
            fisher = fisher_statistics(
                model, batches, use_labels=fisher_labels == "given", shift_labels=shift_labels, seed=seed, progress=step
            )
            for name, tensor in fisher.items():
                writer.write(name, tensor)
            del fisher
        path = writer.finish()
    except BaseException:
        writer.abort()
        raise
    return CalibrationResult(path, key, False, len(shapes), len(batches))
