"""The public Python face: merge a recipe into a folder, or merge in-memory state dicts."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from modelfusion.checkpoint import Checkpoint, open_checkpoint
from modelfusion.checkpoint.companions import copy_companions, write_model_card
from modelfusion.checkpoint.publish import (
    check_output_path,
    discard,
    lock_staging,
    make_staging,
    publish,
    staging_key,
    unlock_staging,
)
from modelfusion.checkpoint.shard_layout import DEFAULT_SHARD_BYTES, ShardLayout, parse_size
from modelfusion.checkpoint.tokenizer_files import write_tokenizer
from modelfusion.engine import run_plan
from modelfusion.engine.device import checked_device
from modelfusion.engine.journal import remove_journal
from modelfusion.engine.runner import tensors_in_flight
from modelfusion.engine.staged_write import write_shards
from modelfusion.errors import OutputError, PlanError, RecipeError
from modelfusion.plan import COPY, Job, MergePlan, build_plan
from modelfusion.plan.summary import PlanSummary, summarize
from modelfusion.recipe import LoadedRecipe, Recipe, load_recipe, load_recipe_text, parse_recipe


@dataclass(frozen=True)
class MergeResult:
    out_dir: Path | None
    summary: PlanSummary
    resumed: int = 0
    """Tensors taken from an interrupted run's journal (resume=True) instead of being computed again."""


def resolve_model_path(ref: str, recipe_file: Path | None) -> Path | None:
    """A model reference as a local path: absolute; else relative to the working directory (as mergekit);
    else relative to the recipe file's folder. None if none of these exists."""
    p = Path(ref).expanduser()
    if p.is_absolute():
        return p if p.exists() else None
    if p.exists():
        return p
    if recipe_file is not None and (recipe_file.parent / p).exists():
        return recipe_file.parent / p
    return None


def _as_stages(recipe: str | Path | Mapping | Recipe) -> list[LoadedRecipe]:
    if isinstance(recipe, Recipe):
        return [LoadedRecipe(recipe, _dump(recipe), None)]
    if isinstance(recipe, Mapping):
        return [LoadedRecipe(parse_recipe(dict(recipe)), _dump(dict(recipe)), None)]
    text = str(recipe)
    if isinstance(recipe, str) and "\n" in text:
        return load_recipe_text(text)
    return load_recipe(Path(recipe))


def _dump(recipe: Recipe | dict) -> str:
    import yaml

    data = recipe.model_dump(exclude_none=True) if isinstance(recipe, Recipe) else recipe
    return yaml.safe_dump(data, sort_keys=False)


def open_models(stage: LoadedRecipe) -> dict[str, Checkpoint]:
    """Open every model the recipe names (metadata only); report all missing paths together."""
    missing, paths = [], {}
    for ref in stage.recipe.model_paths():
        path = resolve_model_path(ref, stage.source)
        if path is None:
            missing.append(
                f"model '{ref}' not found (paths are relative to the working directory, "
                f"then to the recipe's folder; modelfusion does not download)"
            )
        paths[ref] = path
    if missing:
        raise PlanError(missing, str(stage.source) if stage.source else None)
    opened: dict[str, Checkpoint] = {}
    try:
        for ref, path in paths.items():
            opened[ref] = open_checkpoint(path, label=ref)
    except BaseException:
        for c in opened.values():
            c.close()
        raise
    return opened


def plan_stage(stage: LoadedRecipe, checkpoints: Mapping[str, Checkpoint], random_seed: int = 0) -> MergePlan:
    try:
        return build_plan(stage.recipe, checkpoints, stage.text, random_seed)
    except PlanError as e:
        if stage.source and e.where is None:
            raise PlanError(e.problems, str(stage.source)) from None
        raise


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
) -> MergeResult:
    """Merge the models of `recipe` (a file path, YAML text, dict or Recipe) into the folder `out_dir`.

    Nothing is written until every check has passed; the output appears at `out_dir` only when complete.
    A multi-stage recipe (`---`-separated, named stages) writes its last stage to `out_dir` and caches the
    others under `cache_dir` (default $MODELFUSION_CACHE or ~/.cache/modelfusion), reused while unchanged;
    `on_stage(index, name, folder, reused)` is called as each stage starts.
    `resume=True` continues an interrupted merge into the same `out_dir` (same recipe and inputs) from its
    journal, with a bit-identical result. Inputs holding NaN / Inf are an error unless `allow_nonfinite`.
    `report=True` also writes merge_report.md (+ PNGs with the `plots` extra) into `out_dir`: per-layer statistics
    of what the merge did (modelfusion.analysis.merge_report).
    """
    stages = _as_stages(recipe)
    if len(stages) > 1:  # every option but the recipe and OUT goes on to each stage (modelfusion.api_stages)
        options = {k: v for k, v in locals().items() if k not in ("recipe", "out_dir", "stages")}
        from modelfusion.api_stages import merge_stages

        return merge_stages(stages, out_dir, **options)
    stage = stages[0]
    threads = threads or os.cpu_count() or 1
    checked_device(device)  # a missing GPU is reported before any work
    shard_bytes = parse_size(out_shard_size)
    out = Path(out_dir)
    checkpoints = open_models(stage)
    try:
        plan = plan_stage(stage, checkpoints, random_seed)
        plan.allow_nonfinite = allow_nonfinite
        layout = ShardLayout(plan.out_tensors, shard_bytes)
        summary = summarize(plan, threads, len(layout.shards), tensors_in_flight(plan, threads))
        if dry_run:
            return MergeResult(None, summary)
        check_output_path(out, plan.input_paths(), overwrite)
        if on_start:
            on_start(summary)
        before_publish = None
        if report:
            from modelfusion.analysis.merge_report import MergeReportCollector

            plan.observer = collector = MergeReportCollector(plan)
            before_publish = collector.write
        resumed = _write(plan, layout, out, threads, device, overwrite, on_progress, resume, before_publish)
        return MergeResult(out, summary, resumed)
    finally:
        for c in checkpoints.values():
            c.close()


def _write(
    plan: MergePlan,
    layout: ShardLayout,
    out: Path,
    threads: int,
    device: str,
    overwrite: bool,
    on_progress: Callable[[Job], None] | None,
    resume: bool = False,
    before_publish: Callable[[Path], object] | None = None,
) -> int:
    staging = make_staging(out, key=staging_key(out))
    lock = lock_staging(staging)
    try:
        resumed = write_shards(plan, layout, staging, threads, device, on_progress, resume)
        index = layout.index_json()
        if index is not None:
            (staging / "model.safetensors.index.json").write_text(index, encoding="utf-8")
        base = plan.checkpoints[plan.base_model] if plan.base_model else None
        copy_companions(base.folder if base else None, staging, plan.config, plan.out_dtype, plan.tokenizer is not None)
        if plan.tokenizer is not None:
            tok = plan.tokenizer
            write_tokenizer(plan.checkpoints[tok.source].folder, staging, tok.added, tok.ids)
        write_model_card(staging, list(plan.checkpoints), plan.recipe_text, plan.method)
        (staging / "modelfusion_recipe.yaml").write_text(plan.recipe_text, encoding="utf-8")
        if before_publish is not None:
            before_publish(staging)
        remove_journal(staging)
        publish(staging, out, overwrite)
    except KeyboardInterrupt:
        raise  # staging and journal kept: `--resume` continues from there
    except OSError as e:  # disk full, file too large, I/O error
        discard(staging)
        raise OutputError(
            f"{e.strerror or e}; nothing was published and temporary files were removed", where=e.filename or str(out)
        ) from None
    except BaseException:
        discard(staging)
        raise
    finally:
        unlock_staging(lock)
    return resumed


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
    from modelfusion.methods import get_method

    spec = get_method(method)
    keys = [f"model_{i}" for i in range(len(state_dicts))]
    ckpts = {k: open_checkpoint(sd, label=k) for k, sd in zip(keys, state_dicts)}
    base_key = None
    if isinstance(base, int):
        if not -len(keys) <= base < len(keys):
            raise RecipeError(f"base={base} is not an index into the {len(keys)} state dicts")
        base_key = keys[base]
    elif base is not None:
        base_key = "base"
        ckpts[base_key] = open_checkpoint(base, label="base")
    per_model = {p.name for p in spec.params if p.per_model}
    for n, v in params.items():
        if n in per_model and not isinstance(v, (int, float)) and len(list(v)) != len(keys):
            raise RecipeError(f"{n}: {len(list(v))} value(s) for {len(keys)} state dicts (give one each, or a scalar)")
    models = []
    for i, k in enumerate(keys):
        mp = {n: list(v)[i] for n, v in params.items() if n in per_model and not isinstance(v, (int, float))}
        models.append({"model": k, "parameters": mp or None})
    top = {n: v for n, v in params.items() if n not in per_model or isinstance(v, (int, float))}
    recipe = parse_recipe({"merge_method": method, "base_model": base_key, "models": models, "parameters": top or None})
    plan = build_plan(recipe, ckpts, random_seed=random_seed)
    plan.allow_nonfinite = allow_nonfinite
    result: dict[str, torch.Tensor] = {}

    def keep(job: Job, tensor: torch.Tensor) -> None:
        result[job.out.name] = tensor.clone() if job.method == COPY else tensor

    run_plan(plan, keep, threads)
    return {j.out.name: result[j.out.name] for j in plan.jobs}


def inspect(*models: str | Path, base: str | Path | None = None):
    """The compatibility report of `models` (metadata only; `modelfusion inspect` renders the same object)."""
    from modelfusion.analysis.compatibility import inspect_models

    return inspect_models(models, base)
