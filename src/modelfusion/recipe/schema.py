"""The recipe schema: mergekit's `mergekit-yaml` names, strictly validated (unknown keys are errors)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Scalar = Union[bool, int, float, str]
Gradient = Annotated[list[float], Field(min_length=1)]
"""Numbers spread evenly over the layers (at least one)."""


class FilterEntry(BaseModel):
    """One entry of a filter list: applies to tensors whose name contains `filter` (`"*"` or none: every tensor)."""

    model_config = ConfigDict(extra="forbid")
    filter: str | None = None
    value: Scalar | Gradient


ParameterValue = Union[Scalar, Gradient, Annotated[list[FilterEntry], Field(min_length=1)]]
"""A scalar, a gradient (numbers interpolated across layers), or a filter list."""

Parameters = dict[str, ParameterValue]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Calibration(_Strict):
    """Calibration data (the recipe's `calibration:`, shared, or a model entry's, overriding it key by key): the
    statistics a data-aware method needs of a model without a `statistics:` file are computed from it
    (docs/methods.md, "Calibration in a recipe")."""

    text: str | None = None
    """A text file, one example a line."""
    python: str | None = None
    """`file.py:function`: a function of no arguments returning an iterable of batches (or of strings)."""
    examples: int | None = Field(None, ge=1)
    batch_size: int | None = Field(None, ge=1)
    max_length: int | None = Field(None, ge=1)
    fisher_labels: Literal["sampled", "given"] | None = None
    seed: int | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Calibration:
        if self.text is not None and self.python is not None:
            raise ValueError("give one of 'text' and 'python', not both")
        return self


class InputModel(_Strict):
    model: str
    parameters: Parameters | None = None
    statistics: str | None = None
    """A safetensors file of the model's per-tensor statistics (Fisher, Gram) for data-aware methods."""
    calibration: Calibration | None = None
    """Where its statistics are computed from when it has no `statistics:` file (over the recipe's)."""


class SliceSource(_Strict):
    model: str
    layer_range: tuple[int, int]
    parameters: Parameters | None = None
    statistics: str | None = None
    """As InputModel.statistics."""
    calibration: Calibration | None = None
    """As InputModel.calibration."""

    @field_validator("layer_range")
    @classmethod
    def _range_ok(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[0] < 0 or v[1] < v[0]:
            raise ValueError(f"layer_range {list(v)} must be [start, end) with 0 <= start <= end")
        return v


class Slice(_Strict):
    sources: list[SliceSource] = Field(min_length=1)
    base_model: str | None = None
    parameters: Parameters | None = None


class Module(_Strict):
    """One entry of `modules:` (mergekit's per-module definition, e.g. a VLM's `text_decoder` / `vision_tower`):
    exactly one of `models` and `slices`, and parameters between the slices' and the recipe's."""

    models: list[InputModel] | None = None
    slices: list[Slice] | None = None
    parameters: Parameters | None = None
    merge_method: str | None = None
    """modelfusion only (mergekit ignores it): this module's method instead of the recipe's."""
    base_model: str | None = None
    """modelfusion only (mergekit ignores it): this module's base instead of the recipe's."""

    @model_validator(mode="after")
    def _models_or_slices(self) -> Module:
        if bool(self.models) == bool(self.slices):
            raise ValueError("give exactly one of 'models' and 'slices' (not empty)")
        return self


class TokenizerConfig(_Strict):
    source: str = "base"
    tokens: dict[str, Any] | None = None
    pad_to_multiple_of: int | None = None


class Recipe(_Strict):
    """A merge recipe. Exactly one of `models`, `slices` and `modules`."""

    merge_method: str
    base_model: str | None = None
    models: list[InputModel] | None = None
    slices: list[Slice] | None = None
    modules: dict[str, Module] | None = None
    parameters: Parameters | None = None
    dtype: str | None = None
    out_dtype: str | None = None
    tokenizer_source: str | None = None
    tokenizer: TokenizerConfig | None = None
    chat_template: str | None = None
    name: str | None = None
    calibration: Calibration | None = None
    """Calibration data shared by every model (modelfusion only; see Calibration)."""

    @model_validator(mode="after")
    def _models_or_slices(self) -> Recipe:
        if [self.models, self.slices, self.modules].count(None) != 2:
            raise ValueError("give exactly one of 'models' and 'slices' (or 'modules')")
        if self.modules is not None and not self.modules:
            raise ValueError("'modules' is empty")
        if self.models is not None and not self.models:
            raise ValueError("'models' is empty")
        return self

    @model_validator(mode="after")
    def _no_empty_model_names(self) -> Recipe:
        refs = [self.base_model, *(m.model for m in self.models or [])]
        for s in self.all_slices():
            refs += [s.base_model, *(src.model for src in s.sources)]
        for m in (self.modules or {}).values():
            refs += [m.base_model, *(i.model for i in m.models or [])]
        if any(r is not None and not r.strip() for r in refs):
            raise ValueError("a model reference is empty")
        return self

    def model_paths(self) -> list[str]:
        """Every model the recipe names, base first, each once, in order of appearance."""
        names: list[str] = [self.base_model] if self.base_model else []
        if self.models:
            names += [m.model for m in self.models]
        for m in (self.modules or {}).values():
            names += ([m.base_model] if m.base_model else []) + [i.model for i in m.models or []]
        for s in self.all_slices():
            names += ([s.base_model] if s.base_model else []) + [src.model for src in s.sources]
        return list(dict.fromkeys(names + self.tokenizer_models()))

    def all_slices(self) -> list[Slice]:
        """`slices:`, or every module's slices."""
        return list(self.slices or []) + [s for m in (self.modules or {}).values() for s in m.slices or []]

    def tokenizer_models(self) -> list[str]:
        """Models named by the tokenizer settings (a tokenizer source, or a `tokens:` entry's source)."""
        tok = self.tokenizer
        refs = [self.tokenizer_source, tok.source if tok else None]
        for cfg in (tok.tokens or {}).values() if tok else ():
            src = cfg.get("source") if isinstance(cfg, dict) else None
            refs.append(src.get("model") if isinstance(src, dict) else src)
        return [r for r in refs if isinstance(r, str) and r not in ("base", "union")]
