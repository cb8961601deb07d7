"""Where a merge's recipe and models come from: a recipe given as a file, YAML text, dict or Recipe, and model
references resolved to local paths (Hugging Face ids through the Hub cache)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from modelfusion.checkpoint.chat_templates import check_chat_template
from modelfusion.checkpoint.hub import parse_hub_ref, resolve_hub_model
from modelfusion.recipe import LoadedRecipe, Recipe, load_recipe, load_recipe_text, parse_recipe


def load_stages(recipe: str | Path | Mapping | Recipe) -> list[LoadedRecipe]:
    """The stages of `recipe`: a file path, YAML text (one or more `---`-separated stages), a dict or a Recipe."""
    stages = _load(recipe)
    for st in stages:
        check_chat_template(st.recipe.chat_template, str(st.source) if st.source else None)
    return stages


def _load(recipe: str | Path | Mapping | Recipe) -> list[LoadedRecipe]:
    if isinstance(recipe, Recipe):
        return [LoadedRecipe(recipe, _dump(recipe.model_dump(exclude_none=True)), None)]
    if isinstance(recipe, Mapping):
        return [LoadedRecipe(parse_recipe(dict(recipe)), _dump(dict(recipe)), None)]
    text = str(recipe)
    if isinstance(recipe, str) and "\n" in text:
        return load_recipe_text(text)
    return load_recipe(Path(recipe))


def dump_recipe(recipe: Recipe) -> str:
    """YAML text of a recipe (written into the output beside the model card)."""
    return _dump(recipe.model_dump(exclude_none=True))


def _dump(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def resolve_model_path(ref: str, recipe_file: Path | None) -> Path | None:
    """A model reference as a local path: absolute; else relative to the working directory (as mergekit);
    else relative to the recipe file's folder; else, for a Hugging Face id (`org/name`, `org/name@revision`),
    its snapshot in the Hugging Face cache (downloaded when online; modelfusion.checkpoint.hub). A local path
    wins over a Hub id of the same spelling. None if no local path exists and `ref` is not a Hub id; a Hub id
    that cannot be had raises a one-line CheckpointError naming it."""
    p = Path(ref).expanduser()
    if p.is_absolute():
        return p if p.exists() else None
    if p.exists():
        return p
    if recipe_file is not None and (recipe_file.parent / p).exists():
        return recipe_file.parent / p
    hub = parse_hub_ref(ref)
    return resolve_hub_model(hub) if hub is not None else None
