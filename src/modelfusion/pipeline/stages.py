"""Every stage of a recipe resolved and planned before anything is written.

A one-stage recipe names its models as written (paths relative to the working directory, then to the recipe's
folder). A multi-stage recipe (`---`-separated, named stages; modelfusion.plan.stages) has its model references
replaced by absolute paths, an earlier stage's name by that stage's cache folder `<cache>/stages/<name>-<key>/`.
A stage whose input is an earlier stage not computed yet is planned against that stage's planned output
(planned_output.py), so an error in stage 3 stops the run before stage 1 writes a byte; such a plan is
provisional and the stage is planned again from disk when it runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from modelfusion.checkpoint import Checkpoint
from modelfusion.errors import CheckpointError, PlanError, RecipeWarning
from modelfusion.pipeline.calibration import CalibrationJob, calibration_jobs, with_statistics
from modelfusion.pipeline.calibration_run import stage_statistics
from modelfusion.pipeline.model_refs import ModelTarget, absolute, model_identity, open_model, resolve_model
from modelfusion.pipeline.options import MergeOptions
from modelfusion.pipeline.planned_output import planned_checkpoint
from modelfusion.pipeline.sources import dump_recipe
from modelfusion.plan import MergePlan, build_plan
from modelfusion.plan.stages import check_stage_names, model_refs, path_identity, rename_models, stage_key
from modelfusion.plan.statistics import resolve_statistics_path
from modelfusion.recipe import LoadedRecipe, Recipe
from modelfusion.version import __version__


@dataclass(frozen=True)
class StageSpec:
    """One stage, resolved: its recipe, the path of each model it names, and where its output goes."""

    index: int
    name: str | None
    recipe: Recipe
    text: str
    """The recipe text written beside the output (and part of the resume fingerprint)."""
    paths: Mapping[str, ModelTarget]
    """Model reference in `recipe` -> path to open (an earlier stage's cache folder, once computed), or a base
    and the LoRA adapter applied to it (`BASE+ADAPTER`)."""
    out: Path
    """OUT for the last stage, else the stage's cache folder."""
    where: str | None
    """Names the stage in errors."""
    final: bool
    source: Path | None = None
    """The recipe file (statistics files are found relative to the working directory, then to its folder)."""
    calibration: tuple[CalibrationJob, ...] = ()
    """Statistics computed before the stage runs; `recipe` already names their files (pipeline/calibration.py)."""


def resolve_stages(loaded: list[LoadedRecipe], out: Path, options: MergeOptions) -> list[StageSpec]:
    """Every stage with its models resolved; all missing models of a stage are reported together."""
    if len(loaded) == 1:
        return [_single(loaded[0], out, options)]
    where = str(loaded[0].source) if loaded[0].source else "recipe"
    check_stage_names([s.recipe for s in loaded], where)
    folders: dict[str, Path] = {}
    keys: dict[str, str] = {}
    specs: list[StageSpec] = []
    for i, st in enumerate(loaded):
        name = st.recipe.name
        where = f"{st.source or 'recipe'} (stage {i + 1}{f' {name!r}' if name else ''})"
        paths: dict[str, str] = {}
        targets: dict[str, ModelTarget] = {}
        missing = []
        for ref in model_refs(st.recipe):
            if ref in folders:
                paths[ref] = str(folders[ref])
                targets[paths[ref]] = folders[ref]
                continue
            try:
                p = resolve_model(ref, st.source, folders)
            except CheckpointError as e:  # a Hugging Face id that cannot be had
                missing.append(str(e))
                continue
            if p is None:
                missing.append(f"model '{ref}' not found (neither an earlier stage's name, a path nor a Hub id)")
            else:
                target = absolute(p)
                paths[ref] = str(target)
                targets[paths[ref]] = target
        if missing:
            raise PlanError(missing, where)
        stage_keys = {folders[n]: keys[n] for n in keys}
        ids = {ref: keys[ref] if ref in keys else model_identity(targets[p], stage_keys) for ref, p in paths.items()}
        jobs = calibration_jobs(
            st.recipe,
            st.source,
            {ref: None if ref in folders else targets[p] for ref, p in paths.items()}.get,
            options.cache_dir,
            strict=options.strict,
            where=where,
        )
        stats_recipe = with_statistics(st.recipe, {j.model: str(j.out) for j in jobs})
        key = stage_key(
            stats_recipe,
            ids.__getitem__,
            options.random_seed,
            options.device,
            __version__,
            _statistics_identity(st, jobs),
        )
        final = i == len(loaded) - 1
        folder = out if final else options.cache_dir / "stages" / f"{name}-{key[:16]}"
        if not final:
            folders[name], keys[name] = folder, key
        recipe = rename_models(stats_recipe, paths)
        specs.append(
            StageSpec(
                i,
                name,
                recipe,
                dump_recipe(recipe),
                targets,
                folder,
                where,
                final,
                source=st.source,
                calibration=tuple(replace(j, model=paths[j.model]) for j in jobs),
            )
        )
    return specs


def _statistics_identity(stage: LoadedRecipe, jobs: list[CalibrationJob]) -> Callable[[str], str]:
    """A statistics file reference -> the identity of the file it resolves to (a missing file is reported when
    the stage is planned); a computed file's name is its identity (its calibration key: model, data, options)."""
    computed = {str(j.out) for j in jobs}

    def identity(ref: str) -> str:
        if ref in computed:
            return f"calibrated {ref}"
        path = resolve_statistics_path(ref, stage.source)
        return path_identity(path) if path is not None else f"missing {ref}"

    return identity


def _single(stage: LoadedRecipe, out: Path, options: MergeOptions) -> StageSpec:
    missing, paths = [], {}
    for ref in stage.recipe.model_paths():
        try:
            path = resolve_model(ref, stage.source)
        except CheckpointError as e:  # a Hugging Face id that cannot be had
            missing.append(str(e))
            continue
        if path is None:
            missing.append(
                f"model '{ref}' not found (paths are relative to the working directory, "
                f"then to the recipe's folder; Hub ids are written org/name)"
            )
        paths[ref] = path
    where = str(stage.source) if stage.source else None
    if missing:
        raise PlanError(missing, where)
    jobs = calibration_jobs(
        stage.recipe, stage.source, paths.__getitem__, options.cache_dir, strict=options.strict, where=where
    )
    recipe = with_statistics(stage.recipe, {j.model: str(j.out) for j in jobs})
    return StageSpec(0, stage.recipe.name, recipe, stage.text, paths, out, where, True, stage.source, tuple(jobs))


class PlannedStage:
    """A stage's plan and the checkpoints it opened (closed by `close()`)."""

    def __init__(self, spec: StageSpec, plan: MergePlan, opened: list[Checkpoint], provisional: bool) -> None:
        self.spec = spec
        self.plan = plan
        self.opened = opened
        self.provisional = provisional
        """Planned against an earlier stage's planned output: plan again from disk before running."""

    def close(self) -> None:
        for c in self.opened:
            c.close()
        for stats in self.plan.statistics.values():  # opened by build_plan from the recipe's `statistics:`
            stats.close()

    def __enter__(self) -> PlannedStage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def plan_stage(
    spec: StageSpec,
    random_seed: int,
    planned: Mapping[Path, Checkpoint] | None = None,
    *,
    named: bool = False,
    strict: bool = False,
    allow_crimes: bool = False,
) -> PlannedStage:
    """Open the stage's models (or take an earlier stage's planned output from `planned`) and plan it.

    A plan error names the stage: always when `named` (a stage of a multi-stage recipe), else when the error
    names no file of its own. `strict` and `allow_crimes`: as build_plan's."""
    planned = planned or {}
    opened: dict[str, Checkpoint] = {}
    checkpoints: dict[str, Checkpoint] = {}
    stats: dict[str, Checkpoint] | None = None
    provisional = False
    try:
        for ref in spec.recipe.model_paths():
            checkpoints[ref], on_planned = open_model(spec.paths[ref], ref, planned)
            provisional |= on_planned
            if all(checkpoints[ref] is not p for p in planned.values()):
                opened[ref] = checkpoints[ref]
        if spec.calibration:  # planned again from the computed files once they are (run.py)
            provisional = True
            stats = stage_statistics(spec.recipe, spec.source, spec.calibration, spec.where)
        plan = build_plan(
            spec.recipe,
            checkpoints,
            spec.text,
            random_seed,
            recipe_file=spec.source,
            strict=strict,
            allow_crimes=allow_crimes,
            statistics=stats,
        )
    except PlanError as e:
        for c in [*opened.values(), *(stats or {}).values()]:
            c.close()
        if spec.where is not None and (named or e.where is None):
            raise PlanError(e.problems, spec.where) from None
        raise
    except BaseException:
        for c in [*opened.values(), *(stats or {}).values()]:
            c.close()
        raise
    return PlannedStage(spec, plan, list(opened.values()), provisional=provisional)


class StagePlans:
    """Every stage planned, in order; `close()` closes every checkpoint they opened."""

    def __init__(self, stages: list[PlannedStage]) -> None:
        self.stages = stages

    @property
    def final(self) -> PlannedStage:
        return self.stages[-1]

    def close(self) -> None:
        for s in self.stages:
            s.close()

    def __enter__(self) -> StagePlans:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def plan_stages(
    specs: list[StageSpec], random_seed: int, *, strict: bool = False, allow_crimes: bool = False
) -> StagePlans:
    """Plan each stage in order (nothing read or written); a stage whose cache folder exists is opened from disk.
    Each stage's warnings are issued once, as `RecipeWarning`s naming the recipe (or the stage)."""
    planned: dict[Path, Checkpoint] = {}
    stages: list[PlannedStage] = []
    try:
        for spec in specs:
            stage = plan_stage(
                spec, random_seed, planned, named=len(specs) > 1, strict=strict, allow_crimes=allow_crimes
            )
            stages.append(stage)
            for message in stage.plan.warnings:
                warnings.warn(RecipeWarning(f"{spec.where}: {message}" if spec.where else message), stacklevel=4)
            if not spec.final and not spec.out.exists():
                planned[spec.out] = planned_checkpoint(str(spec.out), stage.plan)
    except BaseException:
        for s in stages:
            s.close()
        raise
    return StagePlans(stages)
