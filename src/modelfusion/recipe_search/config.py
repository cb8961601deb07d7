"""A search config: a recipe template with ranges plus a top-level `search:` section, validated as a whole."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from modelfusion.errors import RecipeError
from modelfusion.recipe_search.space import Range, find_ranges

SAMPLERS = ("tpe", "cmaes", "random", "grid", "greedy_soup")


class TaskSpec(BaseModel):
    """One entry of `objective.tasks`: a factory returning modelfusion.evaluate tasks, or a data file."""

    model_config = ConfigDict(extra="forbid")
    python: str | None = None
    """`file.py:function` returning a TextTask or a list of them."""
    data: str | None = None
    """A .jsonl (one {"text", "label"[, "split"]} object a line) or .csv file with those columns."""
    name: str | None = None
    """The task's name for a data file (default: the file's stem)."""

    @model_validator(mode="after")
    def _one(self) -> TaskSpec:
        if (self.python is None) == (self.data is None):
            raise ValueError("each task gives exactly one of 'python' and 'data'")
        if self.name is not None and self.data is None:
            raise ValueError("'name' is for a data file (a Python task names itself)")
        return self


class ObjectiveSettings(BaseModel):
    """`python: path/to/file.py:function`, or built-in evaluate tasks (`tasks: [...]`, see task_objective.py)."""

    model_config = ConfigDict(extra="forbid")
    python: str | None = None
    tasks: list[TaskSpec] | None = Field(None, min_length=1)
    runner: Literal["classifier", "encoder"] = "classifier"
    model: str | None = None
    """The Hugging Face folder whose config and tokenizer run the merged weights (default: base_model, else the
    first model)."""
    heads: dict[str, str] | None = None
    """runner encoder: task name -> classification head file (modelfusion.evaluate.save_head)."""
    max_length: int = Field(64, ge=1)
    batch_size: int = Field(64, ge=1)
    split_seed: int = 0
    """Seed of the stratified split of a data file without a `split` column."""

    @model_validator(mode="after")
    def _one(self) -> ObjectiveSettings:
        if (self.python is None) == (self.tasks is None):
            raise ValueError("give exactly one of 'python' and 'tasks'")
        if self.tasks is None and (self.model or self.heads or "runner" in self.model_fields_set):
            raise ValueError("'runner', 'model' and 'heads' go with 'tasks'")
        if self.tasks is not None and (self.runner == "encoder") != bool(self.heads):
            raise ValueError("runner 'encoder' needs 'heads' (task name -> head file), and only it takes them")
        return self


class SearchSettings(BaseModel):
    """The `search:` section."""

    model_config = ConfigDict(extra="forbid")
    trials: int = Field(20, ge=1)
    sampler: Literal["tpe", "cmaes", "random", "grid", "greedy_soup"] = "tpe"
    seed: int | None = 0
    direction: Literal["maximize", "minimize"] = "maximize"
    timeout: float | None = Field(None, gt=0)
    workers: int = Field(1, ge=1)
    storage: str | None = None
    objective: ObjectiveSettings | None = None
    metric: str | None = None
    random_seed: int = 0
    """Seed of random merge methods (DARE, DELLA) in every trial and in best.yaml's merge."""


@dataclass(frozen=True)
class SearchConfig:
    template: dict[str, Any]
    """The recipe part, ranges still in place."""
    settings: SearchSettings
    ranges: list[Range]
    source: Path | None
    """The config file (model paths and the objective file are relative to it, after the working directory)."""

    @property
    def where(self) -> str:
        return str(self.source) if self.source else "search config"


def _describe(e: ValidationError) -> str:
    parts = []
    for err in e.errors()[:4]:
        loc = ".".join(str(p) for p in ("search", *err["loc"]))
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown key '{loc}'")
        elif err["type"] == "literal_error" and err["loc"] == ("sampler",):
            parts.append(f"unknown sampler {err['input']!r} (use one of: {', '.join(SAMPLERS)})")
        else:
            parts.append(f"{loc}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def parse_search_config(data: object, source: Path | None = None, **overrides: Any) -> SearchConfig:
    """Validate a parsed config; `overrides` (trials, workers, ...) replace keys of the `search:` section."""
    where = str(source) if source else "search config"
    if not isinstance(data, Mapping):
        raise RecipeError("a search config must be a YAML mapping", where)
    template = {k: v for k, v in data.items() if k != "search"}
    section = data.get("search") or {}
    if not isinstance(section, Mapping):
        raise RecipeError("'search' must be a mapping", where)
    section = {**section, **{k: v for k, v in overrides.items() if v is not None}}
    try:
        settings = SearchSettings.model_validate(section)
    except ValidationError as e:
        raise RecipeError(_describe(e), where) from None
    try:
        ranges = find_ranges(template)
    except RecipeError as e:
        raise RecipeError(e.message, where) from None
    if settings.sampler == "grid":
        bad = [r.name for r in ranges if r.grid() is None]
        if bad:
            raise RecipeError(f"the grid sampler needs a 'step' (or a choice) on continuous range(s): {bad}", where)
    if settings.sampler == "greedy_soup" and ranges:
        raise RecipeError("greedy_soup takes a plain recipe (its models are the soup's ingredients), no ranges", where)
    if settings.sampler != "greedy_soup" and not ranges:
        raise RecipeError("the recipe has no search range ({search: uniform, low: ..., high: ...})", where)
    return SearchConfig(template, settings, ranges, source)


def load_search_config(config: str | Path | Mapping, **overrides: Any) -> SearchConfig:
    """A config file path, YAML text or dict -> a validated SearchConfig (nothing opened yet)."""
    from modelfusion.recipe.yaml_source import load_documents

    if isinstance(config, Mapping):
        return parse_search_config(config, None, **overrides)
    text = str(config)
    if isinstance(config, str) and "\n" in text:
        source = None
    else:
        source = Path(config)
        try:
            text = source.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RecipeError("no such search config file", str(source)) from None
        except (OSError, UnicodeDecodeError) as e:
            raise RecipeError(f"cannot read search config: {e}", str(source)) from None
    docs = load_documents(text, str(source) if source else "search config")
    if len(docs) != 1:
        raise RecipeError("a search config is one YAML document (multi-stage search is not supported)", str(source))
    return parse_search_config(docs[0][0], source, **overrides)
