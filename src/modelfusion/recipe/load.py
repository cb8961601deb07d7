"""Read a recipe file (one or several `---`-separated stages) into validated Recipe objects."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from modelfusion.errors import RecipeError
from modelfusion.recipe import schema
from modelfusion.recipe.yaml_source import line_of, load_documents, read_yaml_file


@dataclass
class LoadedRecipe:
    recipe: schema.Recipe
    text: str
    """The YAML text of this stage, written into the output's model card."""
    source: Path | None
    """The recipe file, for resolving relative model paths and naming it in errors."""


def _known_keys() -> set[str]:
    keys: set[str] = set()
    for obj in vars(schema).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj is not BaseModel:
            keys |= set(obj.model_fields)
    return keys


def _describe(err: dict, lines: dict[tuple, int]) -> str:
    loc = tuple(err["loc"])
    line = line_of(lines, loc)
    where = ".".join(str(p) for p in loc) or "recipe"
    at = f"line {line}: " if line else ""
    if err["type"] == "extra_forbidden":
        key = str(loc[-1]) if loc else ""
        close = difflib.get_close_matches(key, sorted(_known_keys()), n=3)
        close = sorted(close, key=lambda c: sorted(c) != sorted(key))  # a transposition first: modles -> models
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"{at}unknown key '{where}'{hint}"
    if err["type"] == "missing":
        return f"{at}missing required key '{where}'"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{at}{where}: {msg}"


PARAMETER_FORMS = (
    "must be a number, true/false, a list of numbers (a gradient) or a filter list "
    "([{filter: NAME, value: ...}, {value: ...}])"
)


def _is_union_tag(part: object) -> bool:
    """pydantic names each branch of a union in an error's location: 'float', 'list[float]', ..."""
    return isinstance(part, str) and (part in ("bool", "int", "float", "str") or "[" in part)


def _collapse_unions(errors: list[dict]) -> list[dict]:
    """A parameter value that fits no form gets one error, not one per form pydantic tried; a typo inside a
    filter entry stays an unknown-key error (and replaces the generic one)."""
    out: list[dict] = []
    typos: set[tuple] = set()
    split = []
    for err in errors:
        loc = tuple(err["loc"])
        last = len(loc) - 1 if err["type"] == "extra_forbidden" else len(loc)  # the offending key is never a tag
        i = next((k for k, part in enumerate(loc[:last]) if _is_union_tag(part)), None)
        split.append((err, loc, i))
        if i is not None and err["type"] == "extra_forbidden":
            typos.add(loc[:i])
    reported: set[tuple] = set()
    for err, loc, i in split:
        if i is None:
            out.append(err)
        elif err["type"] == "extra_forbidden":
            inner = tuple(p for p in loc[i + 1 : -1] if not _is_union_tag(p))
            out.append({**err, "loc": loc[:i] + inner + loc[-1:]})
        elif loc[:i] not in typos and loc[:i] not in reported:
            reported.add(loc[:i])
            out.append({"type": "parameter_form", "loc": loc[:i], "msg": PARAMETER_FORMS})
    return out


def parse_recipe(data: object, lines: dict[tuple, int] | None = None, where: str = "recipe") -> schema.Recipe:
    """Validate one YAML document (already parsed) as a Recipe."""
    if not isinstance(data, dict):
        raise RecipeError(f"a recipe must be a YAML mapping, got {type(data).__name__}", where)
    try:
        return schema.Recipe.model_validate(data)
    except ValidationError as e:
        problems = _dedupe([_describe(err, lines or {}) for err in _collapse_unions(e.errors())])
        raise RecipeError("; ".join(problems[:8]), where) from None


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def load_recipe_text(text: str, source: Path | None = None) -> list[LoadedRecipe]:
    where = str(source) if source else "recipe"
    docs = load_documents(text, where)
    texts = [t for t in text.split("\n---") if t.strip() and t.strip() != "---"] if len(docs) > 1 else [text]
    if len(texts) != len(docs):
        texts = [yaml.safe_dump(d, sort_keys=False) for d, _ in docs]
    stages = [
        LoadedRecipe(parse_recipe(data, lines, where), doc_text, source) for (data, lines), doc_text in zip(docs, texts)
    ]
    if len(stages) > 1:
        unnamed = [i + 1 for i, s in enumerate(stages[:-1]) if not s.recipe.name]
        if unnamed:
            raise RecipeError(f"multi-stage recipe: stage(s) {unnamed} need a 'name:'", where)
    return stages


def load_recipe(path: str | Path) -> list[LoadedRecipe]:
    """Load and validate a recipe file. Returns its stages (one for an ordinary recipe)."""
    path = Path(path)
    return load_recipe_text(read_yaml_file(path), path)
