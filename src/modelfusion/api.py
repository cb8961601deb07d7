"""The public Python face: merge a recipe into a folder, merge in-memory state dicts, inspect models.

Each call builds the options and hands them to modelfusion.pipeline, the one orchestration path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from modelfusion.checkpoint.shard_layout import DEFAULT_SHARD_BYTES
from modelfusion.pipeline import Callbacks, MergeOptions, MergeResult, load_stages, merge_in_memory, run_merge
from modelfusion.plan import Job
from modelfusion.plan.summary import PlanSummary
from modelfusion.recipe import Recipe

__all__ = ["MergeResult", "inspect", "merge", "merge_modules", "merge_state_dicts"]


def merge(
    recipe: str | Path | Mapping | Recipe,
    out_dir: str | Path,
    *,
    threads: int | None = None,
    device: str = "cpu",
    out_shard_size: str | int = DEFAULT_SHARD_BYTES,
    dry_run: bool = False,
    overwrite: bool = False,
    random_seed: int = 0,
    on_start: Callable[[PlanSummary], None] | None = None,
    on_progress: Callable[[Job], None] | None = None,
    cache_dir: str | Path | None = None,
    on_stage: Callable[[int, str | None, Path, bool], None] | None = None,
    resume: bool = False,
    allow_nonfinite: bool = False,
    report: bool = False,
    copy_tokenizer: bool = True,
    write_model_card: bool = True,
    hash_inputs: bool = False,
    strict: bool = False,
    allow_crimes: bool = False,
    out_format: str = "same",
    on_calibrate: Callable[[str, int, int], None] | None = None,
) -> MergeResult:
    """Merge the models of `recipe` (a file path, YAML text, dict or Recipe) into the folder `out_dir`.

    Nothing is written until every check has passed; the output appears at `out_dir` only when complete.
    A multi-stage recipe (`---`-separated, named stages) writes its last stage to `out_dir` and caches the
    others under `cache_dir` (default $MODELFUSION_CACHE or ~/.cache/modelfusion), reused while unchanged;
    `on_stage(index, name, folder, reused)` is called as each stage starts, `on_start(summary)` as each computed
    stage starts writing.
    `resume=True` continues an interrupted merge into the same `out_dir` (same recipe, inputs and options) from
    its journal, with a bit-identical result; in a multi-stage recipe, the stage that was interrupted continues
    from its own journal. Inputs holding NaN / Inf are an error unless `allow_nonfinite`.
    `report=True` also writes merge_report.md (+ PNGs with the `plots` extra) into `out_dir`: per-layer statistics
    of what the last stage did (modelfusion.analysis.merge_report), the same whether or not the run resumed.
    `copy_tokenizer=False` copies no tokenizer files; `write_model_card=False` writes no README.md, recipe or
    modelfusion_provenance.json (as mergekit-yaml's --no-copy-tokenizer / --no-write-model-card);
    `hash_inputs=True` records the sha256 of every local input file there (one more read of the inputs).
    A recipe setting with no effect (a parameter the method does not use) is a `RecipeWarning`; `strict=True`
    makes it an error. Models of different architectures (config.json's `model_type` / `architectures`) are
    refused unless `allow_crimes=True` (mergekit's --allow-crimes).
    `out_format="same"` writes the output in the base model's format when it is one lone file (a training
    checkpoint .pth, Keras .weights.h5, .onnx, .gguf: docs/formats.md); "safetensors" always writes a folder.
    A recipe's `calibration:` data gives data-aware methods the statistics of models without a `statistics:` file:
    computed (cached under `cache_dir`) after every check, before the merge; `on_calibrate(model, done, total)`
    reports it. A dry run lists them in `MergeResult.calibration` and computes nothing.
    """
    stages = load_stages(recipe)
    options = MergeOptions.create(
        threads=threads,
        device=device,
        out_shard_size=out_shard_size,
        dry_run=dry_run,
        overwrite=overwrite,
        random_seed=random_seed,
        resume=resume,
        allow_nonfinite=allow_nonfinite,
        report=report,
        copy_tokenizer=copy_tokenizer,
        write_model_card=write_model_card,
        hash_inputs=hash_inputs,
        strict=strict,
        allow_crimes=allow_crimes,
        out_format=out_format,
        cache_dir=cache_dir,
        callbacks=Callbacks(on_start=on_start, on_progress=on_progress, on_stage=on_stage, on_calibrate=on_calibrate),
    )
    return run_merge(stages, Path(out_dir), options)


def merge_state_dicts(
    state_dicts: Sequence[Mapping[str, torch.Tensor]],
    method: str = "linear",
    base: int | Mapping[str, torch.Tensor] | None = None,
    threads: int = 1,
    random_seed: int = 0,
    allow_nonfinite: bool = False,
    **params: Any,
) -> dict[str, torch.Tensor]:
    """Merge in-memory state dicts; touches no files.

    Per-model parameters are given as sequences aligned with `state_dicts` (e.g. weight=[0.3, 0.7]); global
    ones as scalars (e.g. t=0.5). `base` is an index into `state_dicts` or a separate state dict.
    """
    return merge_in_memory(
        state_dicts, method, base, params, threads=threads, random_seed=random_seed, allow_nonfinite=allow_nonfinite
    )


def merge_modules(
    models: Sequence[Any],
    method: str = "linear",
    base: Any = None,
    data: Sequence[Any] | None = None,
    **params: Any,
):
    """Merge in-memory torch.nn.Modules into a new module (a copy of `base`, or of the first model); data-aware
    methods (fisher, regmean, adamerging) are calibrated on `data`, one iterable of batches per model.
    See modelfusion.pipeline.modules.merge_modules for the options."""
    from modelfusion.pipeline.modules import merge_modules as merge

    return merge(models, method, base, data, **params)


def inspect(*models: str | Path, base: str | Path | None = None):
    """The compatibility report of `models` (metadata only; `modelfusion inspect` renders the same object)."""
    from modelfusion.analysis.compatibility import inspect_models

    return inspect_models(models, base)
