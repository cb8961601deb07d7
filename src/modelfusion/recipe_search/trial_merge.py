"""Merging one trial's recipe in memory: the same plan and engine as `modelfusion merge`, no file written.

The inputs are opened once per search. When their tensors fit in `memory_budget` they are read once and kept
(a trial then reads nothing from disk); otherwise each trial streams them from the files again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from modelfusion.checkpoint import Checkpoint, open_checkpoint
from modelfusion.checkpoint.checkpoint import StateDictSource
from modelfusion.engine.run_options import RunOptions
from modelfusion.engine.runner import run_plan
from modelfusion.errors import PlanError
from modelfusion.pipeline import resolve_model_path
from modelfusion.plan import COPY, Job, MergePlan, build_plan
from modelfusion.plan.stages import rename_models
from modelfusion.recipe import Recipe, parse_recipe

DEFAULT_MEMORY_BUDGET = 8 << 30


class TrialMerger:
    """Opens the models a template names (paths resolved once) and merges trial recipes into state dicts."""

    def __init__(
        self,
        refs: list[str],
        config_file: Path | None,
        *,
        threads: int = 1,
        random_seed: int = 0,
    ) -> None:
        self.threads = threads
        self.random_seed = random_seed
        missing, self.paths = [], {}
        for ref in refs:
            path = resolve_model_path(ref, config_file)
            if path is None:
                missing.append(f"model '{ref}' not found (relative to the working directory, then to the config)")
            else:
                self.paths[ref] = str(path.resolve())
        if missing:
            raise PlanError(missing, str(config_file) if config_file else None)
        self._open()

    def _open(self) -> None:
        self.checkpoints: dict[str, Checkpoint] = {}
        try:
            for path in dict.fromkeys(self.paths.values()):
                self.checkpoints[path] = open_checkpoint(path, label=path)
        except BaseException:
            self.close()
            raise
        self.input_bytes = sum(c.nbytes for c in self.checkpoints.values())
        self.in_memory = False
        self._input_ptrs: set[int] = set()

    def hold(self, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> bool:
        """Read the inputs into memory once if they fit `memory_budget`; True if they are now held."""
        if not self.in_memory and self.input_bytes <= memory_budget:
            for path, ckpt in list(self.checkpoints.items()):
                state = {name: ckpt.read(name) for name in ckpt.infos}
                ckpt.close()
                self._keep(path, ckpt.label, ckpt.path, ckpt.config, state)
            self.in_memory = True
        return self.in_memory

    def _keep(self, path: str, label: str, folder: Path | None, config: Any, state: dict[str, torch.Tensor]) -> None:
        self.checkpoints[path] = Checkpoint(label, [StateDictSource(state, label)], folder, config=config)
        self._input_ptrs |= {t.untyped_storage().data_ptr() for t in state.values()}

    def __getstate__(self) -> dict[str, Any]:
        """What a Ray worker receives: the held tensors when in memory, else only the paths (reopened there)."""
        held = None
        if self.in_memory:
            held = {
                p: (c.label, c.path, c.config, {n: c.read(n) for n in c.infos}) for p, c in self.checkpoints.items()
            }
        return {"paths": self.paths, "threads": self.threads, "random_seed": self.random_seed, "held": held}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.paths, self.threads, self.random_seed = state["paths"], state["threads"], state["random_seed"]
        if state["held"] is None:
            self._open()
            return
        self.checkpoints, self._input_ptrs, self.in_memory = {}, set(), True
        for path, (label, folder, config, tensors) in state["held"].items():
            self._keep(path, label, folder, config, tensors)
        self.input_bytes = sum(c.nbytes for c in self.checkpoints.values())

    def resolve(self, recipe: dict[str, Any], where: str | None = None) -> Recipe:
        """The trial's recipe with model references as absolute paths (what best.yaml holds)."""
        return rename_models(parse_recipe(recipe, where=where or "search config"), self.paths)

    def plan(self, recipe: Recipe) -> MergePlan:
        """Plan `recipe` (resolved) against the opened inputs: every problem found without reading data."""
        return build_plan(recipe, self.checkpoints, random_seed=self.random_seed)

    def merge(self, recipe: Recipe) -> dict[str, torch.Tensor]:
        """The merged state dict of `recipe` (resolved), in output order."""
        plan = self.plan(recipe)
        result: dict[str, torch.Tensor] = {}

        def keep(job: Job, tensor: torch.Tensor) -> None:
            shared = job.method == COPY or tensor.untyped_storage().data_ptr() in self._input_ptrs
            result[job.out.name] = tensor.clone() if shared else tensor

        try:
            run_plan(plan, keep, self.threads, options=RunOptions())
        finally:
            for c in plan.statistics.values():
                c.close()
        return {j.out.name: result[j.out.name] for j in plan.jobs}

    def close(self) -> None:
        for c in self.checkpoints.values():
            c.close()
