"""Merging candidates end to end and scoring them, with results cached per (recipe, evaluation data).

A candidate is merged by `modelfusion merge` (a subprocess) into a folder under the cache, scored on the
requested splits of every task with that task's own head, and its scores stored in `evals/<key>.json`; the
merged folder is then deleted. The next candidate's merge runs while the current one is evaluated. A re-run with
the same recipe and data reads the scores back without merging.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.quality.recipes import recipe, write_recipe
from bench.quality.settings import Candidate
from modelfusion.evaluate import ClassificationHead, TextTask, evaluate_folder_splits

TaskHeads = Mapping[str, tuple[TextTask, ClassificationHead]]
Scores = dict[str, dict[str, float]]
"""{split: {task: metric}}"""


@dataclass(frozen=True)
class Item:
    """One merge to score: its recipe, a short name, and the tasks (with heads) to score it on."""

    data: dict
    name: str
    tasks: TaskHeads


@dataclass
class Sweep:
    base: Path
    finetuned: dict[str, Path]
    """Task name -> fine-tuned encoder folder."""
    cache: Path
    threads: int
    max_length: int
    norms: list[float] | None = None
    seconds: dict[str, float] = field(default_factory=lambda: {"merge_wait": 0.0, "evaluate": 0.0})
    merges: int = 0

    def _key(self, data: dict, tasks: TaskHeads, split: str) -> str:
        h = hashlib.sha256(json.dumps(data, sort_keys=True).encode())
        h.update(f"{self.max_length}:{split}".encode())
        for name, (task, head) in tasks.items():
            h.update(name.encode())
            for ex in task.splits.get(split):
                h.update(f"{ex.label}\t{ex.text}\n".encode())
            for t in head.linear.state_dict().values():
                h.update(t.numpy().tobytes())
        return h.hexdigest()[:16]

    def _cached(self, item: Item, splits: Sequence[str]) -> Scores:
        out = {}
        for s in splits:
            path = self.cache / "evals" / f"{self._key(item.data, item.tasks, s)}.json"
            if path.is_file():
                out[s] = json.loads(path.read_text())["scores"]
        return out

    def _store(self, item: Item, split: str, scores: dict[str, float]) -> None:
        path = self.cache / "evals" / f"{self._key(item.data, item.tasks, split)}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"name": item.name, "split": split, "recipe": item.data, "scores": scores}
        path.write_text(json.dumps(record, indent=1) + "\n")

    def _evaluate(self, folder: Path, item: Item, splits: Sequence[str]) -> Scores:
        t0 = time.perf_counter()
        got = evaluate_folder_splits(folder, item.tasks, splits, self.max_length)
        self.seconds["evaluate"] += time.perf_counter() - t0
        for s in splits:
            self._store(item, s, got[s])
        return got

    def recipe_for(self, candidate: Candidate, tasks: Sequence[str]) -> dict:
        return recipe(candidate, self.base, [self.finetuned[t] for t in tasks], self.norms)

    def folder_scores(self, folder: Path, item: Item, splits: Sequence[str]) -> Scores:
        """Scores of an existing model folder (no merge), cached like merges."""
        have = self._cached(item, splits)
        missing = [s for s in splits if s not in have]
        return {**have, **(self._evaluate(folder, item, missing) if missing else {})}

    def scores_many(self, items: Sequence[Item], splits: Sequence[str]) -> list[Scores]:
        """Scores of each item's merge, merging item i+1 in the background while item i is evaluated."""
        results = [self._cached(item, splits) for item in items]
        todo = [i for i, r in enumerate(results) if len(r) < len(splits)]
        running: dict[int, tuple[subprocess.Popen, Path, Path]] = {}
        try:
            if todo:
                running[todo[0]] = self._start_merge(items[todo[0]])
            for j, i in enumerate(todo):
                if j + 1 < len(todo):
                    running[todo[j + 1]] = self._start_merge(items[todo[j + 1]])
                folder = self._finish_merge(*running.pop(i))
                try:
                    missing = [s for s in splits if s not in results[i]]
                    results[i] |= self._evaluate(folder, items[i], missing)
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
        finally:
            for proc, out, _ in running.values():
                proc.kill()
                proc.wait()
                shutil.rmtree(out, ignore_errors=True)
        return results

    def _start_merge(self, item: Item) -> tuple[subprocess.Popen, Path, Path]:
        recipe_file = write_recipe(item.data, self.cache / "recipes" / f"{item.name}.yaml")
        out = self.cache / "merged" / item.name
        log = self.cache / "recipes" / f"{item.name}.log"
        exe = Path(sys.executable).with_name("modelfusion")
        cmd = [str(exe), "merge", str(recipe_file), str(out), "--quiet", "--overwrite", "-j", str(self.threads)]
        with log.open("w") as f:
            proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
        self.merges += 1
        return proc, out, log

    def _finish_merge(self, proc: subprocess.Popen, out: Path, log: Path) -> Path:
        t0 = time.perf_counter()
        code = proc.wait()
        self.seconds["merge_wait"] += time.perf_counter() - t0
        if code != 0:
            raise RuntimeError(f"modelfusion merge failed ({code}), see {log}:\n{log.read_text()}")
        return out


def tune_all(
    sweep: Sweep, grids: Mapping[str, Sequence[Candidate]], tasks: TaskHeads, finetuned_val: Mapping[str, float]
) -> dict[str, tuple[list[dict], Candidate, dict[str, float]]]:
    """For each row: score its candidates on validation, pick the best mean normalized validation accuracy, and
    score that one on test. All merges of a phase run back to back, each overlapping the previous evaluation.

    Returns {row: (grid, best candidate, test scores)}.
    """
    flat = [(row, c) for row, cands in grids.items() for c in cands]
    items = [Item(sweep.recipe_for(c, list(tasks)), f"{c.row}-{c.value}", tasks) for _, c in flat]
    scored = sweep.scores_many(items, ["validation"])
    grids_out: dict[str, list[dict]] = {row: [] for row in grids}
    best: dict[str, tuple[float, int]] = {}
    for i, ((row, c), s) in enumerate(zip(flat, scored)):
        mean_norm = sum(s["validation"][t] / finetuned_val[t] for t in tasks) / len(tasks)
        grids_out[row].append(
            {"param": c.param, "value": c.value, "validation": s["validation"], "validation_normalized_mean": mean_norm}
        )
        if row not in best or mean_norm > best[row][0]:
            best[row] = (mean_norm, i)
    tests = sweep.scores_many([items[best[row][1]] for row in grids], ["test"])
    return {row: (grids_out[row], flat[best[row][1]][1], t["test"]) for row, t in zip(grids, tests)}
