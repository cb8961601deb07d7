"""Recipes in one shape: `models:` becomes a single slice spanning every layer of every model."""

from __future__ import annotations

from dataclasses import dataclass

from modelfusion.recipe.schema import InputModel, Parameters, Recipe, Slice


@dataclass(frozen=True)
class Source:
    model: str
    layer_range: tuple[int, int] | None
    """None: every layer, unrenumbered (the `models:` form)."""
    parameters: Parameters | None


@dataclass(frozen=True)
class SliceSpec:
    sources: list[Source]
    base_model: str | None
    parameters: Parameters | None
    module_parameters: Parameters | None = None
    """The parameters of the `modules:` entry the slice belongs to (between the slice's and the recipe's)."""

    @property
    def num_layers(self) -> int | None:
        first = self.sources[0].layer_range
        return None if first is None else first[1] - first[0]


def slices_of(recipe: Recipe) -> list[SliceSpec]:
    """The recipe's slices; with `modules:`, every module's, in order."""
    if recipe.modules is not None:
        return [sl for slices in module_slices(recipe).values() for sl in slices]
    return _slices(recipe.models, recipe.slices, recipe.base_model, None)


def module_slices(recipe: Recipe) -> dict[str, list[SliceSpec]]:
    """`modules:` entry name -> its slices (a module's `models:` is one slice over every layer of the module)."""
    return {
        name: _slices(m.models, m.slices, m.base_model or recipe.base_model, m.parameters)
        for name, m in (recipe.modules or {}).items()
    }


def _slices(
    models: list[InputModel] | None, slices: list[Slice] | None, base: str | None, module_params: Parameters | None
) -> list[SliceSpec]:
    if models is not None:
        sources = [Source(m.model, None, m.parameters) for m in models]
        if base is not None and base not in {m.model for m in models}:
            # as mergekit: in the `models:` form the base model is an input even when not listed
            # (so `linear` averages it in with the top-level parameters); `slices:` take only their sources.
            sources.append(Source(base, None, None))
        return [SliceSpec(sources, base, None, module_params)]
    return [
        SliceSpec(
            [Source(s.model, tuple(s.layer_range), s.parameters) for s in sl.sources],
            sl.base_model or base,
            sl.parameters,
            module_params,
        )
        for sl in slices or []
    ]
