"""A recipe's `calibration:` section: which models' statistics are computed before the merge, checked data-free.

A data-aware method (one whose spec consumes statistics: fisher, regmean) needs a statistics file per model. A
model without a `statistics:` file but with calibration data (its entry's `calibration:` over the recipe's) gets
a CalibrationJob: its statistics are computed with calibrate/ into the cache
(`<cache>/statistics/<key>.safetensors`, key = model identity + data identity + options) and the recipe is
planned as if the user had written `statistics: <that file>` (`with_statistics`). Everything here is checked
before any model runs: data files exist, python functions are found, the model is a Hugging Face folder.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelfusion.checkpoint.lora_applied import AdaptedModel
from modelfusion.errors import ModelFusionError, RecipeWarning
from modelfusion.plan.problems import Problems
from modelfusion.plan.stages import path_identity
from modelfusion.plan.statistics import resolve_statistics_path
from modelfusion.recipe.schema import Calibration, Recipe

DEFAULTS = {"batch_size": 8, "max_length": 128, "fisher_labels": "sampled", "seed": 0}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


@dataclass(frozen=True)
class CalibrationJob:
    """The statistics of one model, to be computed from its calibration data before its stage runs."""

    model: str
    """The model's reference in the stage's recipe."""
    folder: Path
    stats: tuple[str, ...]
    """"gram", "fisher": what the methods that merge this model consume."""
    source: str
    """The data as written: `text: FILE` or `python: FILE:FUNCTION`."""
    text: Path | None
    function: Callable[[], Any] | None = field(compare=False, repr=False)
    examples: int | None
    batch_size: int
    max_length: int
    fisher_labels: str
    seed: int
    out: Path
    """The statistics file in the cache (reused while model, data and options are unchanged)."""

    def describe(self) -> str:
        state = "cached" if self.out.is_file() else "to compute"
        return f"model {self.model}: {', '.join(self.stats)} from {self.source} -> {self.out} ({state})"


def _entries(recipe: Recipe) -> Iterator[tuple[str, str | None, Calibration | None, str]]:
    """(model, statistics file, calibration, merge method) of every models / sources entry, modules' included."""
    for m in recipe.models or []:
        yield m.model, m.statistics, m.calibration, recipe.merge_method
    for s in recipe.slices or []:
        for src in s.sources:
            yield src.model, src.statistics, src.calibration, recipe.merge_method
    for mod in (recipe.modules or {}).values():
        method = mod.merge_method or recipe.merge_method
        for m in mod.models or []:
            yield m.model, m.statistics, m.calibration, method
        for s in mod.slices or []:
            for src in s.sources:
                yield src.model, src.statistics, src.calibration, method


def _statistics_of(method: str) -> tuple[str, ...]:
    from modelfusion.methods.registry import get_method

    try:
        return tuple(s.name for s in get_method(method).statistics)
    except ModelFusionError:  # an unknown method is reported by the plan
        return ()


def _settings(shared: Calibration | None, own: Calibration | None) -> dict[str, Any]:
    """The entry's calibration key by key over the recipe's (an entry's data source replaces the shared one)."""
    merged = shared.model_dump(exclude_none=True) if shared else {}
    mine = own.model_dump(exclude_none=True) if own else {}
    if "text" in mine or "python" in mine:
        merged.pop("text", None)
        merged.pop("python", None)
    return {**DEFAULTS, **merged, **mine}


def calibration_jobs(
    recipe: Recipe,
    recipe_file: Path | None,
    target_of: Callable[[str], Any],
    cache_dir: Path,
    *,
    strict: bool = False,
    where: str | None = None,
) -> list[CalibrationJob]:
    """The models of `recipe` whose statistics its `calibration:` data provides, checked (every problem raised
    together as a PlanError naming `where`); calibration nobody uses is a RecipeWarning (an error when strict).
    `target_of(ref)`: the model's resolved path (a ModelTarget), or None for an earlier stage's output."""
    problems = Problems(strict)
    needs: dict[str, set[str]] = {}
    given: dict[str, str] = {}
    own: dict[str, Calibration] = {}
    for model, stats_file, calibration, method in _entries(recipe):
        needs.setdefault(model, set()).update(_statistics_of(method))
        if stats_file is not None:
            given[model] = stats_file
        if calibration is not None and own.setdefault(model, calibration) != calibration:
            problems.add(f"model {model} is given two different calibrations")
    jobs: list[CalibrationJob] = []
    for model, stats in needs.items():
        settings = _settings(recipe.calibration, own.get(model))
        has_data = "text" in settings or "python" in settings
        if not stats or model in given:
            if model in own:
                why = "has a statistics file" if stats else "is merged by a method that uses no statistics"
                problems.warn(f"calibration of model {model} is not used: it {why}")
            continue
        if not has_data:
            continue  # the plan reports the missing statistics, naming the model
        job = _job(model, sorted(stats), settings, recipe_file, target_of(model), cache_dir, problems)
        if job is not None:
            jobs.append(job)
    if recipe.calibration is not None and not jobs and not problems:
        problems.warn("the recipe's calibration is not used: no model without a statistics file needs statistics")
    problems.raise_if_any(where)
    for message in problems.warnings:
        warnings.warn(RecipeWarning(f"{where}: {message}" if where else message), stacklevel=3)
    return jobs


def _job(
    model: str,
    stats: list[str],
    settings: dict[str, Any],
    recipe_file: Path | None,
    target: Any,
    cache_dir: Path,
    problems: Problems,
) -> CalibrationJob | None:
    folder = _model_folder(model, target, problems)
    text = function = None
    if "text" in settings:
        source = f"text: {settings['text']}"
        text = resolve_statistics_path(settings["text"], recipe_file)
        if text is None or not text.is_file():
            problems.add(f"calibration data file '{settings['text']}' of model {model} not found")
        elif folder is not None and not any((folder / f).is_file() for f in TOKENIZER_FILES):
            problems.add(f"model {model} has no tokenizer to tokenize its calibration text '{settings['text']}'")
        data_id = path_identity(text) if text is not None else ""
    else:
        source = f"python: {settings['python']}"
        function, data_id = _python_function(settings["python"], recipe_file, model, problems)
    if folder is None or (text is None and function is None):
        return None
    options = {k: settings.get(k) for k in ("examples", "batch_size", "max_length", "fisher_labels", "seed")}
    if "fisher" not in stats:
        options.pop("fisher_labels"), options.pop("seed")
    record = {"model": path_identity(folder), "data": data_id, "stats": stats, **options}
    key = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
    return CalibrationJob(
        model,
        folder,
        tuple(stats),
        source,
        text,
        function,
        settings.get("examples"),
        settings["batch_size"],
        settings["max_length"],
        settings["fisher_labels"],
        settings["seed"],
        cache_dir / "statistics" / f"{key[:24]}.safetensors",
    )


def _model_folder(model: str, target: Any, problems: Problems) -> Path | None:
    if target is None:
        problems.add(f"model {model} is an earlier stage's output: give it a statistics file, not calibration data")
    elif isinstance(target, AdaptedModel):
        problems.add(f"model {model} is a LoRA applied on the fly: calibration needs a model folder")
    elif not (Path(target) / "config.json").is_file():
        problems.add(
            f"model {model} is not a Hugging Face folder (no config.json): calibration runs it with transformers"
        )
    else:
        return Path(target).resolve()
    return None


def _python_function(
    ref: str, recipe_file: Path | None, model: str, problems: Problems
) -> tuple[Callable[[], Any] | None, str]:
    """Run `file.py` (relative to the working directory, then to the recipe) and take its `function`."""
    import types

    file, sep, name = ref.rpartition(":")
    if not sep or not file or not name:
        problems.add(f"calibration python of model {model} must be 'file.py:function', got '{ref}'")
        return None, ""
    path = resolve_statistics_path(file, recipe_file)
    if path is None or not path.is_file():
        problems.add(f"calibration python file '{file}' of model {model} not found")
        return None, ""
    module = types.ModuleType(path.stem)
    module.__file__ = str(path.resolve())
    try:
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), module.__dict__)
    except Exception as e:  # the user's file: any failure is theirs
        problems.add(f"calibration python file '{file}' of model {model} failed: {type(e).__name__}: {e}")
        return None, ""
    fn = getattr(module, name, None)
    if not callable(fn):
        problems.add(f"calibration python file '{file}' of model {model} has no function '{name}'")
        return None, ""
    return fn, f"{path_identity(path)}:{name}"


def with_statistics(recipe: Recipe, files: Mapping[str, str | None]) -> Recipe:
    """A copy of `recipe` whose entries of each model in `files` name that statistics file (None: none)."""
    data = recipe.model_dump(mode="json", exclude_none=True)
    slices = list(data.get("slices") or [])
    entries = list(data.get("models") or [])
    for mod in (data.get("modules") or {}).values():
        entries += mod.get("models") or []
        slices += mod.get("slices") or []
    entries += [src for s in slices for src in s["sources"]]
    for entry in entries:
        if entry["model"] in files:
            entry.pop("statistics", None)
            if files[entry["model"]] is not None:
                entry["statistics"] = files[entry["model"]]
    return Recipe.model_validate(data)
