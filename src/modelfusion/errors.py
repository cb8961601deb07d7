"""Error types. A UserError is the user's to fix (bad recipe, bad file): the CLI prints one line, exit 2."""

from __future__ import annotations


class ModelFusionError(Exception):
    """Base class of every error modelfusion raises on purpose."""


class UserError(ModelFusionError):
    """A problem with the user's input. `where` names the file (or recipe key) at fault."""

    def __init__(self, message: str, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class RecipeError(UserError):
    """The recipe is malformed or asks for something impossible."""


class CheckpointError(UserError):
    """A checkpoint cannot be opened or read safely."""


class PlanError(UserError):
    """The merge cannot be planned. Holds every problem found, not just the first."""

    def __init__(self, problems: list[str], where: str | None = None) -> None:
        self.problems = problems
        if len(problems) == 1:
            super().__init__(problems[0], where)  # one problem: one line
            return
        head = f"{len(problems)} problems found before reading any tensor:"
        super().__init__(head + "".join(f"\n  - {p}" for p in problems), where)


class RecipeWarning(UserWarning):
    """A recipe setting that has no effect (e.g. a parameter the method does not use); `strict` makes it an error.
    The CLI prints each as one line."""


class OutputError(UserError):
    """The output location is unsafe or unwritable."""
