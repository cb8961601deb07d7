"""Multi-stage recipes: stage order, model references between stages, and the cache key of each stage.

A multi-stage recipe is several YAML documents separated by `---`, each with a `name:`; a later stage names an
earlier one as a model. Each intermediate is cached under

    key = sha256(stage recipe, canonical JSON, with every model reference replaced by its identity
                 + random seed + device type + modelfusion version)

where a model's identity is its resolved path with the size and mtime of each of its files (a `base+adapter`
reference: both), an earlier stage's identity is that stage's key, and each `statistics:` file named in the stage
is replaced by its identity too. An unchanged stage with unchanged inputs therefore has the same key and
is reused; editing a stage (or any stage or file it depends on) changes its key and the keys after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path

from modelfusion.errors import RecipeError
from modelfusion.recipe.schema import Recipe


def model_refs(recipe: Recipe) -> list[str]:
    """Every model the recipe names, including tokenizer sources that are models (not 'base' / 'union')."""
    refs = list(recipe.model_paths())
    tok = recipe.tokenizer
    sources = [recipe.tokenizer_source, tok.source if tok else None]
    for cfg in (tok.tokens or {}).values() if tok else ():
        sources += _token_models(cfg)
    refs += [s for s in sources if isinstance(s, str) and s not in ("base", "union")]
    return list(dict.fromkeys(refs))


def _token_models(cfg: object) -> list[str]:
    if not isinstance(cfg, Mapping):
        return []
    src = cfg.get("source")
    if isinstance(src, str):
        return [src]
    if isinstance(src, Mapping) and isinstance(src.get("model"), str):
        return [src["model"]]
    return []


def _entries(data: dict, key: str) -> list[dict]:
    """The `models` or `slices` entries of a dumped recipe: its own and every module's."""
    return [*(data.get(key) or []), *(e for mod in (data.get("modules") or {}).values() for e in mod.get(key) or [])]


def rename_models(recipe: Recipe, names: Mapping[str, str]) -> Recipe:
    """A copy of `recipe` with model references replaced through `names` (others unchanged)."""

    def sub(v: object) -> object:
        return names.get(v, v) if isinstance(v, str) else v

    data = recipe.model_dump(mode="json", exclude_none=True)
    for key in ("base_model", "tokenizer_source"):
        if key in data:
            data[key] = sub(data[key])
    for m in _entries(data, "models"):
        m["model"] = sub(m["model"])
    for sl in _entries(data, "slices"):
        if "base_model" in sl:
            sl["base_model"] = sub(sl["base_model"])
        for s in sl["sources"]:
            s["model"] = sub(s["model"])
    for mod in (data.get("modules") or {}).values():
        if "base_model" in mod:
            mod["base_model"] = sub(mod["base_model"])
    tok = data.get("tokenizer")
    if tok:
        if tok.get("source") not in ("base", "union"):
            tok["source"] = sub(tok.get("source"))
        for cfg in (tok.get("tokens") or {}).values():
            if isinstance(cfg, dict) and isinstance(cfg.get("source"), str):
                cfg["source"] = sub(cfg["source"])
            elif isinstance(cfg, dict) and isinstance(cfg.get("source"), dict) and "model" in cfg["source"]:
                cfg["source"]["model"] = sub(cfg["source"]["model"])
    return Recipe.model_validate(data)


def check_stage_names(recipes: list[Recipe], where: str) -> None:
    """Names are unique, and a stage only uses stages defined before it."""
    names = [r.name for r in recipes]
    problems = []
    dupes = sorted({n for n in names if n and names.count(n) > 1})
    if dupes:
        problems.append(f"stage name(s) {dupes} used more than once")
    for i, r in enumerate(recipes):
        for ref in model_refs(r):
            if ref in names[i + 1 :] and ref not in names[:i]:
                problems.append(f"stage {i + 1} ('{r.name or 'final'}') uses stage '{ref}', which comes after it")
            if ref == r.name:
                problems.append(f"stage '{r.name}' uses itself as a model")
    if problems:
        raise RecipeError("multi-stage recipe: " + "; ".join(problems), where)


def path_identity(path: Path) -> str:
    """Resolved path plus name, size and mtime of each file in it (a folder's top level, or the one file)."""
    path = path.resolve()
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    parts = [str(path)] + [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def statistics_refs(recipe: Recipe) -> list[str]:
    """Every statistics file the recipe names (`statistics:` of a models / sources entry, modules' included),
    each once."""
    models = [*(recipe.models or []), *(m for mod in (recipe.modules or {}).values() for m in mod.models or [])]
    refs = [m.statistics for m in models]
    refs += [s.statistics for sl in recipe.all_slices() for s in sl.sources]
    return list(dict.fromkeys(r for r in refs if r is not None))


def stage_key(
    recipe: Recipe,
    identity: Callable[[str], str],
    random_seed: int,
    device: str,
    version: str,
    statistics_identity: Callable[[str], str] | None = None,
) -> str:
    """Cache key of one stage; `identity(ref)` gives each model reference's identity, `statistics_identity(ref)`
    each statistics file's (required when the stage names statistics files)."""
    refs = model_refs(recipe)
    canonical = rename_models(recipe, {r: f"<{identity(r)}>" for r in refs})
    data = canonical.model_dump(mode="json", exclude_none=True, exclude={"name"})
    stats = statistics_refs(recipe)
    if stats:
        if statistics_identity is None:
            raise ValueError("stage_key: the stage names statistics files; give statistics_identity")
        ids = {r: f"<{statistics_identity(r)}>" for r in stats}
        entries = _entries(data, "models") + [s for sl in _entries(data, "slices") for s in sl["sources"]]
        for entry in entries:
            if "statistics" in entry:
                entry["statistics"] = ids[entry["statistics"]]
    payload = {
        "recipe": data,
        "seed": random_seed,
        "device": device.split(":")[0],
        "version": version,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
