"""The built-in objective: a merged state dict loaded into a Hugging Face model and scored on evaluate tasks.

`runner: classifier` (default) loads `model` as AutoModelForSequenceClassification and scores every task with the
classifier's own head (modelfusion.evaluate.score_classifier: class names matched by name). `runner: encoder`
loads it as AutoModel (mean pooling) and scores each task with its own head file (modelfusion.evaluate.score).
The result names each task's metric; with several tasks, `mean` (their average) is what is optimised unless
`search.metric` names another. The model and tasks are loaded once per process (once per Ray worker).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from modelfusion.errors import RecipeError
from modelfusion.recipe_search.config import ObjectiveSettings
from modelfusion.recipe_search.task_data import load_tasks


class TaskObjective:
    """objective(state_dict, split) -> {task: metric[, "mean"]}; pickles as its settings (reloaded on use)."""

    def __init__(self, settings: ObjectiveSettings, model: str, config_file: Path | None) -> None:
        self.settings, self.model_ref, self.config_file = settings, model, config_file
        self.where = str(config_file) if config_file else "search config"
        self._loaded: tuple[Any, list[Any], dict[str, Any]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings, "model_ref": self.model_ref, "config_file": self.config_file}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["settings"], state["model_ref"], state["config_file"])

    def load(self) -> tuple[Any, list[Any], dict[str, Any]]:
        """(runner model, tasks, heads by task name), loaded on first use."""
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded

    def _load(self) -> tuple[Any, list[Any], dict[str, Any]]:
        from modelfusion import evaluate
        from modelfusion.pipeline import resolve_model_path

        tasks = load_tasks(self.settings, self.config_file)
        folder = resolve_model_path(self.model_ref, self.config_file)
        if folder is None or not (folder / "config.json").is_file():
            raise RecipeError(f"objective.model '{self.model_ref}' is not a Hugging Face model folder", self.where)
        s = self.settings
        if s.runner == "classifier":
            return evaluate.load_classifier(folder, s.max_length), tasks, {}
        missing = [t.name for t in tasks if t.name not in (s.heads or {})]
        if missing:
            raise RecipeError(f"objective.heads: no head for task(s) {missing}", self.where)
        heads = {}
        for name, file in (s.heads or {}).items():
            path = Path(file).expanduser()
            if not path.is_file() and self.config_file is not None:
                path = self.config_file.parent / path
            heads[name] = evaluate.load_head(path)[0]
        return evaluate.load_encoder(folder, s.max_length), tasks, heads

    def __call__(self, state_dict: Mapping[str, torch.Tensor], split: str) -> dict[str, float]:
        from modelfusion import evaluate

        runner, tasks, heads = self.load()
        load_weights(runner.model, state_dict)
        if self.settings.runner == "classifier":
            scores = {t.name: evaluate.score_classifier(runner, t, split) for t in tasks}
        else:
            scores = {t.name: evaluate.score(runner, t, heads[t.name], split) for t in tasks}
        if len(scores) > 1:
            scores["mean"] = sum(scores.values()) / len(scores)
        return scores


@torch.no_grad()
def load_weights(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Copy the merged tensors into `model`; every parameter must be given (tied copies excepted) and no other."""
    own = model.state_dict()
    unexpected = sorted(set(state_dict) - set(own))
    given = {own[n].data_ptr() for n in state_dict if n in own}
    missing = sorted(n for n in own if n not in state_dict and own[n].data_ptr() not in given)
    if unexpected or missing:
        raise ValueError(
            f"the merged weights do not fit objective.model: unexpected {unexpected[:3]}, missing {missing[:3]}"
        )
    for name, tensor in state_dict.items():
        own[name].copy_(tensor)


def make_task_objective(settings: ObjectiveSettings, template: Mapping[str, Any], config_file: Path | None):
    """The TaskObjective of the config, loaded now so that a bad task, model or head stops the search at once."""
    model = settings.model or template.get("base_model")
    if model is None:
        models = template.get("models") or []
        model = models[0].get("model") if models and isinstance(models[0], Mapping) else None
    if not isinstance(model, str):
        where = str(config_file) if config_file else "search config"
        raise RecipeError("objective.model: name the Hugging Face folder that runs the merged weights", where)
    objective = TaskObjective(settings, model, config_file)
    objective.load()
    return objective
