"""The options of one merge, validated once: what `merge(...)` and `modelfusion merge` accept, in one object."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from modelfusion.checkpoint.native_output import check_out_format
from modelfusion.checkpoint.shard_layout import DEFAULT_SHARD_BYTES, parse_size
from modelfusion.engine.device import checked_device
from modelfusion.errors import UserError
from modelfusion.plan.job import Job
from modelfusion.plan.summary import PlanSummary

CACHE_ENV = "MODELFUSION_CACHE"


def default_cache_dir() -> Path:
    """$MODELFUSION_CACHE, else ~/.cache/modelfusion."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "modelfusion")


@dataclass(frozen=True)
class Callbacks:
    on_start: Callable[[PlanSummary], None] | None = None
    """Called with a stage's plan summary just before the stage writes (once per computed stage)."""
    on_progress: Callable[[Job], None] | None = None
    """Called after each output tensor is written (or taken from the journal on resume)."""
    on_stage: Callable[[int, str | None, Path, bool], None] | None = None
    """Multi-stage recipes: on_stage(index, name, folder, reused) as each stage starts."""
    on_calibrate: Callable[[str, int, int], None] | None = None
    """A recipe's `calibration:`: on_calibrate(model, batches done, total) while a model's statistics are computed."""


@dataclass(frozen=True)
class MergeOptions:
    """Everything about a merge except the recipe and OUT. Build it with `MergeOptions.create(...)` from user
    values (threads None = every core, sizes as text); the constructor checks the normalised values."""

    threads: int
    device: str = "cpu"
    shard_bytes: int = DEFAULT_SHARD_BYTES
    """Largest output shard, in bytes."""
    dry_run: bool = False
    overwrite: bool = False
    random_seed: int = 0
    resume: bool = False
    """Continue each stage interrupted in an earlier run from its journal (the last stage's beside OUT, earlier
    stages' in the cache)."""
    allow_nonfinite: bool = False
    report: bool = False
    """Write merge_report.md (+ PNGs) into OUT: the last stage's statistics."""
    copy_tokenizer: bool = True
    """Copy the tokenizer files of the base (else first) model; a merged tokenizer (`tokenizer:`) is written anyway."""
    write_model_card: bool = True
    """Write README.md, modelfusion_recipe.yaml and modelfusion_provenance.json."""
    hash_inputs: bool = False
    """Record the sha256 of every local input file in modelfusion_provenance.json (reads the inputs once more)."""
    cache_dir: Path = field(default_factory=default_cache_dir)
    """Where a multi-stage recipe's intermediate stages are written (and reused while unchanged)."""
    callbacks: Callbacks = field(default_factory=Callbacks)
    strict: bool = False
    """Warnings (recipe settings with no effect, e.g. a parameter the method does not use) are errors."""
    allow_crimes: bool = False
    """Merge models whose config.json names different architectures (mergekit's --allow-crimes)."""
    out_format: str = "same"
    """'same': a base model that is one lone file (.pth, .weights.h5, .onnx, .gguf) gives an output file in its
    format and layout; 'safetensors': always a safetensors folder (Hugging Face folders always give one)."""

    def __post_init__(self) -> None:
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1:
            raise UserError(f"threads must be a positive integer, got {self.threads!r}", where="--threads")
        if isinstance(self.shard_bytes, bool) or not isinstance(self.shard_bytes, int) or self.shard_bytes < 1:
            raise UserError(f"shard size must be a positive number of bytes, got {self.shard_bytes!r}")
        if isinstance(self.random_seed, bool) or not isinstance(self.random_seed, int):
            raise UserError(f"random seed must be an integer, got {self.random_seed!r}", where="--random-seed")
        checked_device(self.device)  # a missing GPU is reported before any work
        check_out_format(self.out_format)

    @classmethod
    def create(
        cls,
        *,
        threads: int | None = None,
        device: str = "cpu",
        out_shard_size: str | int = DEFAULT_SHARD_BYTES,
        dry_run: bool = False,
        overwrite: bool = False,
        random_seed: int = 0,
        resume: bool = False,
        allow_nonfinite: bool = False,
        report: bool = False,
        copy_tokenizer: bool = True,
        write_model_card: bool = True,
        hash_inputs: bool = False,
        cache_dir: str | Path | None = None,
        callbacks: Callbacks | None = None,
        strict: bool = False,
        allow_crimes: bool = False,
        out_format: str = "same",
    ) -> MergeOptions:
        """Options from user values: threads None or 0 = every core, `out_shard_size` like '5GB' or bytes,
        `cache_dir` None = $MODELFUSION_CACHE or ~/.cache/modelfusion."""
        return cls(
            threads=threads or os.cpu_count() or 1,
            device=device,
            shard_bytes=parse_size(out_shard_size),
            dry_run=dry_run,
            overwrite=overwrite,
            random_seed=random_seed,
            resume=resume,
            allow_nonfinite=allow_nonfinite,
            report=report,
            copy_tokenizer=copy_tokenizer,
            write_model_card=write_model_card,
            hash_inputs=bool(hash_inputs),
            cache_dir=Path(cache_dir) if cache_dir is not None else default_cache_dir(),
            callbacks=callbacks or Callbacks(),
            strict=bool(strict),
            allow_crimes=bool(allow_crimes),
            out_format=out_format,
        )
