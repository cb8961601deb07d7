"""Running a multi-stage recipe: plan every stage first, then merge each into its cache folder, the last into OUT.

Every stage is planned before anything is written (a stage whose input is an earlier, not yet computed stage is
planned against that stage's planned output: names, shapes, dtypes and config are known from its plan), so an
error in stage 3 stops the run before stage 1 writes a byte. Intermediates live in
`<cache_dir>/stages/<name>-<key>/` (see modelfusion.plan.stages for the key) and are reused while unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from modelfusion import __version__
from modelfusion.checkpoint import Checkpoint, TensorInfo, open_checkpoint
from modelfusion.checkpoint.shard_layout import DEFAULT_SHARD_BYTES, ShardLayout, parse_size
from modelfusion.checkpoint.tokenizer_files import Vocab
from modelfusion.engine.runner import tensors_in_flight
from modelfusion.errors import PlanError
from modelfusion.plan import MergePlan, build_plan
from modelfusion.plan.stages import check_stage_names, model_refs, path_identity, rename_models, stage_key
from modelfusion.plan.summary import summarize
from modelfusion.plan.vocab import checkpoint_vocab
from modelfusion.recipe import LoadedRecipe, Recipe

CACHE_ENV = "MODELFUSION_CACHE"


def default_cache_dir() -> Path:
    """$MODELFUSION_CACHE, else ~/.cache/modelfusion."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "modelfusion")


class _PlannedFile:
    """The output of a planned, not yet computed stage: tensor metadata only."""

    def __init__(self, infos: dict[str, TensorInfo]) -> None:
        self.infos = infos

    def read(self, name: str) -> torch.Tensor:
        raise RuntimeError(f"stage output not computed yet (tensor {name})")

    def close(self) -> None:
        pass


def planned_checkpoint(label: str, plan: MergePlan) -> Checkpoint:
    """A Checkpoint describing what `plan` will write (for planning the stages that use it)."""
    infos = {i.name: TensorInfo(i.name, i.shape, i.dtype, label) for i in plan.out_tensors}
    ckpt = Checkpoint(label, [_PlannedFile(infos)])
    ckpt.config = plan.config
    if plan.tokenizer is not None:  # the stage's output vocabulary (else its base's, read from the base's folder)
        ckpt.planned_vocab = Vocab(plan.tokenizer.ids, frozenset(t for t, special in plan.tokenizer.added if special))
    elif plan.base_model is not None:
        ckpt.planned_vocab = checkpoint_vocab(plan.checkpoints[plan.base_model])
    return ckpt


class _Stage:
    def __init__(self, loaded: LoadedRecipe, recipe: Recipe, folder: Path | None, where: str) -> None:
        self.loaded = loaded
        self.recipe = recipe
        """The stage recipe with every model reference an absolute path (earlier stages: their cache folder)."""
        self.folder = folder
        """Cache folder (None for the final stage, written to OUT)."""
        self.where = where


def _resolve(stages: list[LoadedRecipe], cache: Path, random_seed: int, device: str) -> list[_Stage]:
    from modelfusion.api import resolve_model_path

    folders: dict[str, Path] = {}
    keys: dict[str, str] = {}
    out: list[_Stage] = []
    for i, st in enumerate(stages):
        where = f"{st.source or 'recipe'} (stage {i + 1}{f' {st.recipe.name!r}' if st.recipe.name else ''})"
        paths: dict[str, str] = {}
        missing = []
        for ref in model_refs(st.recipe):
            if ref in folders:
                paths[ref] = str(folders[ref])
                continue
            p = resolve_model_path(ref, st.source)
            if p is None:
                missing.append(f"model '{ref}' not found (neither an earlier stage's name nor a path)")
            else:
                paths[ref] = str(p.resolve())
        if missing:
            raise PlanError(missing, where)

        ids = {ref: keys[ref] if ref in keys else path_identity(Path(p)) for ref, p in paths.items()}
        key = stage_key(st.recipe, ids.__getitem__, random_seed, device, __version__)
        last = i == len(stages) - 1
        folder = None if last else cache / "stages" / f"{st.recipe.name}-{key[:16]}"
        if not last:
            folders[st.recipe.name], keys[st.recipe.name] = folder, key
        out.append(_Stage(st, rename_models(st.recipe, paths), folder, where))
    return out


def _plan_all(stages: list[_Stage], random_seed: int) -> MergePlan:
    """Plan each stage in order (nothing read or written); return the final stage's plan."""
    planned: dict[str, Checkpoint] = {}
    plan = None
    for st in stages:
        opened: dict[str, Checkpoint] = {}
        try:
            for ref in st.recipe.model_paths():
                opened[ref] = planned[ref] if ref in planned else open_checkpoint(ref, label=ref)
            try:
                plan = build_plan(st.recipe, opened, st.loaded.text, random_seed)
            except PlanError as e:
                raise PlanError(e.problems, st.where) from None
        finally:
            for ref, c in opened.items():
                if ref not in planned:
                    c.close()
        if st.folder is not None and not st.folder.exists():
            planned[str(st.folder)] = planned_checkpoint(str(st.folder), plan)
    assert plan is not None
    return plan


def merge_stages(
    stages: list[LoadedRecipe],
    out_dir: str | Path,
    *,
    cache_dir: str | Path | None = None,
    dry_run: bool = False,
    random_seed: int = 0,
    device: str = "cpu",
    threads: int | None = None,
    out_shard_size: str | int = DEFAULT_SHARD_BYTES,
    on_stage: Any = None,
    **options: Any,
):
    """Merge a multi-stage recipe; the last stage goes to `out_dir`, the others to the cache (reused if there).

    `on_stage(index, name, folder, reused)` is called before each stage runs. Other options go to api.merge.
    """
    from modelfusion.api import MergeResult, merge

    where = str(stages[0].source) if stages[0].source else "recipe"
    check_stage_names([s.recipe for s in stages], where)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    resolved = _resolve(stages, cache, random_seed, device)
    final_plan = _plan_all(resolved, random_seed)
    if dry_run:
        shards = len(ShardLayout(final_plan.out_tensors, parse_size(out_shard_size)).shards)
        workers = threads or os.cpu_count() or 1
        return MergeResult(None, summarize(final_plan, workers, shards, tensors_in_flight(final_plan, workers)))
    common: dict[str, Any] = {
        "random_seed": random_seed,
        "device": device,
        "threads": threads,
        "out_shard_size": out_shard_size,
    }
    intermediate = {k: v for k, v in options.items() if k not in ("overwrite", "resume", "report")}
    for i, st in enumerate(resolved[:-1]):
        reused = st.folder.exists()
        if on_stage:
            on_stage(i, st.recipe.name, st.folder, reused)
        if not reused:
            st.folder.parent.mkdir(parents=True, exist_ok=True)
            merge(st.recipe, st.folder, **common, **intermediate)
    if on_stage:
        on_stage(len(resolved) - 1, resolved[-1].recipe.name, Path(out_dir), False)
    return merge(resolved[-1].recipe, out_dir, **common, **options)
