"""The tasks of a built-in objective (`objective.tasks`): modelfusion.evaluate TextTasks from a Python factory or
from a data file.

A data file is .jsonl (one `{"text": ..., "label": ...}` object a line) or .csv (columns text, label). With a
`split` field on every row (train / validation / test) those splits are used as given; else the rows are split
by `modelfusion.evaluate.stratified_split` (20 % test, 20 % validation per class, seeded by `split_seed`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelfusion.errors import RecipeError, UserError
from modelfusion.recipe_search.config import ObjectiveSettings, TaskSpec
from modelfusion.recipe_search.python_file import load_function, read_function

SPLITS = ("train", "validation", "test")


def load_tasks(settings: ObjectiveSettings, config_file: Path | None) -> list[Any]:
    """Every task of `settings.tasks`, in order; names must be unique."""
    where = str(config_file) if config_file else "search config"
    tasks: list[Any] = []
    for i, spec in enumerate(settings.tasks or []):
        tasks += _python_tasks(spec, i, config_file) if spec.python else [_data_task(spec, settings, config_file)]
    names = [t.name for t in tasks]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise RecipeError(f"objective.tasks: task names {dup} appear twice", where)
    return tasks


def _python_tasks(spec: TaskSpec, i: int, config_file: Path | None) -> list[Any]:
    from modelfusion.evaluate import TextTask

    src = read_function(spec.python or "", config_file, f"objective.tasks.{i}.python")
    try:
        made = load_function(src)()
    except RecipeError:
        raise
    except Exception as e:
        raise RecipeError(f"{src.ref} raised {type(e).__name__}: {e}", src.where) from None
    tasks = list(made) if isinstance(made, (list, tuple)) else [made]
    if not tasks or not all(isinstance(t, TextTask) for t in tasks):
        got = sorted({type(t).__name__ for t in tasks}) or ["nothing"]
        raise RecipeError(
            f"{src.ref} must return a modelfusion.evaluate.TextTask or a list of them, not {got}", src.where
        )
    return tasks


def _data_task(spec: TaskSpec, settings: ObjectiveSettings, config_file: Path | None) -> Any:
    from modelfusion.evaluate import Example, Splits, SplitSizes, TextTask, make_task
    from modelfusion.evaluate.data_files import read_rows

    where = str(config_file) if config_file else "search config"
    path = Path(spec.data or "").expanduser()
    if not path.is_file() and config_file is not None and (config_file.parent / path).is_file():
        path = config_file.parent / path
    if not path.is_file():
        raise RecipeError(f"objective.tasks: data file '{spec.data}' not found", where)
    rows = read_rows(path, "a task data file is .jsonl or .csv")
    bad = [i + 1 for i, r in enumerate(rows) if not isinstance(r, dict) or not r.get("text") or r.get("label") is None]
    if bad or not rows:
        raise UserError(f"rows {bad[:5]} lack a text or a label" if bad else "no rows", str(path))
    name = spec.name or path.stem
    examples = [Example(str(r["text"]), str(r["label"])) for r in rows]
    if not any("split" in r for r in rows):
        return make_task(name, str(path), examples, SplitSizes(), settings.split_seed)
    odd = sorted({str(r.get("split")) for r in rows} - set(SPLITS))
    if odd:
        raise UserError(f"split {odd} is not one of {', '.join(SPLITS)} (or leave out 'split' on every row)", str(path))
    parts = {s: [e for e, r in zip(examples, rows) if r["split"] == s] for s in SPLITS}
    for s in ("validation", "test"):
        if not parts[s]:
            raise UserError(f"no {s} row: the search scores validation, the best recipe test", str(path))
    labels = tuple(sorted({e.label for e in examples}))
    return TextTask(name=name, description=str(path), labels=labels, splits=Splits(**parts))
