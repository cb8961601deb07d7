"""The plan builder's `modules:` walk: each module of the recipe planned on its own tensors, with its own slices,
parameters (between the slices' and the recipe's, as mergekit) and, modelfusion only, method and base.

As mergekit 0.1.5: a module's layers are numbered from 0 within the module, its tensors outside the layer
stack come from its first slice (those before the stack) or its last (those after), and gradients run over
the module's own layers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelfusion.errors import ModelFusionError
from modelfusion.methods import get_method
from modelfusion.plan.modules import ModuleConfigError, ModuleMap, module_config
from modelfusion.plan.naming import count_layers
from modelfusion.plan.sources import SliceSpec, module_slices

if TYPE_CHECKING:
    from modelfusion.recipe.schema import Recipe


class ModulesMixin:
    """Mixed into plan.build._Builder (which provides ckpts, reference, method, slices, problems, ...)."""

    modules: dict[str, list[SliceSpec]] | None
    module_of: ModuleMap | None
    module: str | None
    module_origins: dict[str | None, list[tuple[str, int]]]
    module_config_out: dict | None

    def init_modules(self: Any, recipe: Recipe) -> None:
        self.modules = module_slices(recipe) if recipe.modules is not None else None
        self.module_of = ModuleMap(list(recipe.modules)) if recipe.modules is not None else None
        self.module = None
        self.module_origins = {}
        self.module_config_out = None

    def where(self: Any, i: int) -> str:
        """How the recipe names slice i of the current module (in errors)."""
        prefix = f"modules.{self.module}." if self.module is not None else ""
        form = self.recipe.modules[self.module] if self.module is not None else self.recipe
        return f"{prefix}models" if form.models is not None else f"{prefix}slices[{i}]"

    def mine(self: Any, name: str) -> bool:
        """Whether tensor `name` belongs to the module being planned (always, without `modules:`)."""
        return self.module_of is None or self.module_of(name) == self.module

    def origins_of_module(self: Any) -> list[tuple[str, int]]:
        """The (model, layer) list the walk fills for the current module."""
        self.module_origins[self.module] = []
        return self.module_origins[self.module]

    def check_and_build(self: Any) -> None:
        if self.modules is None:
            self.check_recipe()
            self.build()
            return
        ref = self.ckpts[self.reference]
        for problem in self.module_of.problems(ref.infos, self.reference):
            self.problems.add(problem)
        every, recipe_method = self.slices, self.method
        for name, slices in self.modules.items():
            self.module, self.slices, self.method = name, slices, recipe_method
            own = self.recipe.modules[name].merge_method
            if own is not None:
                try:
                    self.method = get_method(own)
                except ModelFusionError as e:
                    self.problems.add(f"modules.{name}: {e}")
                    self.method = None
            self.ref_layers = count_layers([n for n in ref.infos if self.mine(n)], None)
            self.check_recipe()
            self.build()
        self.module, self.slices, self.method = None, every, recipe_method
        self.module_config_out = self._modules_config(ref.config)  # at plan time: its problems are the plan's

    def modules_config(self: Any, config: dict | None) -> dict | None:
        """config.json of a `modules:` merge (computed by check_and_build, from the reference's `config`)."""
        return self.module_config_out

    def _modules_config(self: Any, config: dict | None) -> dict | None:
        """Each module whose slices restack its layers gets its count (and per-layer lists) in its config key
        (modules.module_config); a count with no known key is a plan problem."""
        if config is None:
            return None
        for name, slices in self.modules.items():
            self.module = name
            origins = self.module_origins.get(name, [])
            names = [n for n in self.ckpts[self.reference].infos if self.mine(n)]
            ref_layers = count_layers(names, None)
            if all(s.layer_range is None for sl in slices for s in sl.sources):
                continue
            if origins == [(self.reference, i) for i in range(ref_layers)]:
                continue
            configs = {m: c.config for m, c in self.ckpts.items()}
            counts = {m: count_layers([n for n in c.infos if self.mine(n)], None) for m, c in self.ckpts.items()}
            try:
                config = module_config(config, names, ref_layers, origins, configs, counts, name)
            except ModuleConfigError as e:
                self.problems.add(str(e))
        self.module = None
        return config
