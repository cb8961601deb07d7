"""What a search leaves in OUT besides the study database: best.yaml and trials.csv."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial

from modelfusion.recipe_search.study import counted


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_best(out: Path, trial: FrozenTrial) -> Path:
    """best.yaml: the best trial's recipe, no ranges, model paths absolute; `modelfusion merge` reproduces it."""
    path = out / "best.yaml"
    head = f"# modelfusion search: best trial {trial.number}, validation value {trial.value!r}\n"
    atomic_write(path, head + yaml.safe_dump(trial.user_attrs["recipe"], sort_keys=False))
    return path


def trial_state(t: FrozenTrial) -> str:
    if t.state.name == "FAIL" and not counted(t):
        return "INTERRUPTED"
    return t.state.name


def trial_rows(study: optuna.Study) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per trial: number, state, value, seconds, params, named scores, error."""
    trials = study.get_trials(deepcopy=False)
    params = list(dict.fromkeys(p for t in trials for p in t.params))
    scores = list(dict.fromkeys(k for t in trials for k in t.user_attrs if k.startswith("score_")))
    soup = ["soup"] if any("soup" in t.user_attrs for t in trials) else []
    header = ["number", "state", "value", "seconds", "merge_seconds", *params, *soup, *scores, "error"]
    rows = []
    for t in trials:
        row: dict[str, Any] = {
            "number": t.number,
            "state": trial_state(t),
            "value": t.value if t.values else "",
            "seconds": t.user_attrs.get("seconds", ""),
            "merge_seconds": t.user_attrs.get("merge_seconds", ""),
            "error": t.user_attrs.get("error", ""),
        }
        row.update({p: t.params.get(p, "") for p in params})
        row.update({s: t.user_attrs.get(s, "") for s in [*soup, *scores]})
        rows.append(row)
    return header, rows


def write_trials_csv(out: Path, study: optuna.Study) -> Path:
    path = out / "trials.csv"
    header, rows = trial_rows(study)
    tmp = path.with_name(".trials.csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
    return path
