"""Per-tensor statistics of the input models (Fisher, Gram): which file, which entry, checked at plan time.

A recipe names each model's statistics file next to the model (`statistics: a.stats.safetensors` in a `models:`
or slice `sources:` entry). The statistic `s` of tensor `t` is the entry `"s:t"` (methods/statistics.py). Every
missing file, missing entry and wrong shape is a plan problem naming the file, reported with all the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from modelfusion.checkpoint import Checkpoint, open_checkpoint
from modelfusion.checkpoint.dtypes import is_float
from modelfusion.errors import ModelFusionError
from modelfusion.methods import MergeMethod
from modelfusion.methods.statistics import entry_name
from modelfusion.plan.job import InputRef
from modelfusion.plan.problems import Problems
from modelfusion.recipe.schema import Recipe


def statistics_paths(recipe: Recipe, problems: Problems) -> dict[str, str]:
    """model -> the statistics file the recipe names for it (one file per model), in `models:`, `slices:` and
    every module's entries."""
    models = [*(recipe.models or []), *(m for mod in (recipe.modules or {}).values() for m in mod.models or [])]
    entries = [(m.model, m.statistics) for m in models]
    entries += [(s.model, s.statistics) for sl in recipe.all_slices() for s in sl.sources]
    paths: dict[str, str] = {}
    for model, path in entries:
        if path is None:
            continue
        if paths.setdefault(model, path) != path:
            problems.add(f"model {model} is given two statistics files: '{paths[model]}' and '{path}'")
    return paths


def resolve_statistics_path(ref: str, recipe_file: Path | None) -> Path | None:
    """Absolute; else relative to the working directory; else to the recipe's folder (as model paths).
    None if none of these exists."""
    p = Path(ref).expanduser()
    if p.is_absolute() or p.exists():
        return p if p.exists() else None
    if recipe_file is not None and (recipe_file.parent / p).exists():
        return recipe_file.parent / p
    return None


def open_statistics(recipe: Recipe, recipe_file: Path | None, problems: Problems) -> dict[str, Checkpoint]:
    """Open (metadata only) every statistics file the recipe names, by model; missing or unreadable files are
    problems naming them."""
    opened: dict[str, Checkpoint] = {}
    for model, ref in statistics_paths(recipe, problems).items():
        path = resolve_statistics_path(ref, recipe_file)
        if path is None:
            problems.add(
                f"statistics file '{ref}' of model {model} not found (paths are relative to the working "
                "directory, then to the recipe's folder)"
            )
            continue
        try:
            opened[model] = open_checkpoint(path, label=ref)
        except ModelFusionError as e:
            problems.add(f"statistics file '{ref}' of model {model}: {e}")
    return opened


def statistic_refs(
    method: MergeMethod,
    inputs: list[InputRef],
    shape: tuple[int, ...],
    files: Mapping[str, Checkpoint],
    problems: Problems,
) -> dict[str, list[InputRef]]:
    """The entries of each statistic `method` consumes for one tensor of `shape`, one per input (aligned with
    `inputs`); a statistic that does not apply to the tensor, or that falls back where no model has it, is
    left out (the method then gets None)."""
    out: dict[str, list[InputRef]] = {}
    for stat in method.statistics:
        if not stat.applies(shape):
            continue
        want = stat.expected_shape(shape)
        refs: list[InputRef] = []
        missing: list[str] = []
        for ref in inputs:
            stats = files.get(ref.model)
            if stats is None:
                problems.add(
                    f"method '{method.name}' needs the '{stat.name}' statistics of model {ref.model}: give it a "
                    "statistics file (`statistics: path.safetensors` in its models / sources entry) or "
                    "calibration data (`calibration:`, docs/methods.md)"
                )
                continue
            entry = entry_name(stat.name, ref.tensor)
            info = stats.infos.get(entry)
            where = stats.label
            if info is None:
                missing.append(f"statistics file '{where}' has no entry '{entry}' (model {ref.model})")
            elif tuple(info.shape) != want:
                problems.add(
                    f"statistics file '{where}': entry '{entry}' has shape {list(info.shape)}, expected "
                    f"{list(want)} for tensor '{ref.tensor}' of shape {list(shape)}"
                )
            elif not is_float(info.dtype):
                problems.add(f"statistics file '{where}': entry '{entry}' is {info.dtype}, not a float tensor")
            else:
                refs.append(InputRef(ref.model, entry))
        if missing and (stat.missing == "error" or len(missing) < len(inputs)):
            for problem in missing:
                problems.add(problem)
        elif len(refs) == len(inputs):
            out[stat.name] = refs
    return out
