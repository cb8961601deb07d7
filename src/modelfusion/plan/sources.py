"""Recipes in one shape: `models:` becomes a single slice spanning every layer of every model."""

from __future__ import annotations

from dataclasses import dataclass

from modelfusion.recipe.schema import Parameters, Recipe


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

    @property
    def num_layers(self) -> int | None:
        first = self.sources[0].layer_range
        return None if first is None else first[1] - first[0]


def slices_of(recipe: Recipe) -> list[SliceSpec]:
    if recipe.models is not None:
        sources = [Source(m.model, None, m.parameters) for m in recipe.models]
        if recipe.base_model is not None and recipe.base_model not in {m.model for m in recipe.models}:
            # as mergekit: in the `models:` form the base model is an input even when not listed
            # (so `linear` averages it in with the top-level parameters); `slices:` take only their sources.
            sources.append(Source(recipe.base_model, None, None))
        return [SliceSpec(sources, recipe.base_model, None)]
    return [
        SliceSpec(
            [Source(s.model, tuple(s.layer_range), s.parameters) for s in sl.sources],
            sl.base_model or recipe.base_model,
            sl.parameters,
        )
        for sl in recipe.slices or []
    ]
