"""The recipe language: a strict superset of mergekit's YAML schema."""

from modelfusion.recipe.load import LoadedRecipe, load_recipe, load_recipe_text, parse_recipe
from modelfusion.recipe.schema import Recipe

__all__ = ["LoadedRecipe", "Recipe", "load_recipe", "load_recipe_text", "parse_recipe"]
