"""The labelled data of the `text` and `image` federated tasks, read from the file the config names.

Text: .jsonl (one `{"text": ..., "label": ...}` object a line) or .csv (columns text, label). Rows may carry a
`split` (train / validation / test: train and validation rows train, test rows are the held-out split) and a
`task` (for `partition: {kind: task}`: each client gets the rows of some tasks). Without `split`, the held-out
split is `modelfusion.evaluate.stratified_split`'s test split (a `test_fraction` of each class, seeded), the same
test set a search with that seed scores.

Images: .npz with arrays x_train, y_train, x_test, y_test (or x, y, split here like text), optional
task_train (one task name per training image) and labels (class names). Images are (n, h, w) or (n, h, w, c),
uint8 in 0..255 or floats in 0..1. Labels are integers 0..C-1 (or any values, mapped to their sorted order).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelfusion.errors import UserError
from modelfusion.federated.config import DataConfig

SPLITS = ("train", "validation", "test")


@dataclass
class Labelled:
    """Training inputs with integer targets and optional task names; the held-out inputs and targets."""

    labels: tuple[str, ...]
    train: Any
    train_y: list[int]
    test: Any
    test_y: list[int]
    train_tasks: list[str] | None = None


def _cap_per_class(idx: list[int], y: list[int], cap: int | None) -> list[int]:
    if cap is None:
        return idx
    seen: dict[int, int] = {}
    kept = []
    for i in idx:
        seen[y[i]] = seen.get(y[i], 0) + 1
        if seen[y[i]] <= cap:
            kept.append(i)
    return kept


def read_text(cfg: DataConfig, seed: int) -> Labelled:
    """Texts and targets of the training and held-out splits (see the module doc)."""
    from modelfusion.evaluate import Example, SplitSizes, stratified_split
    from modelfusion.evaluate.data_files import read_rows

    path = Path(cfg.path or "")
    rows = read_rows(path, "a text data file is .jsonl or .csv (text, label columns)")
    bad = [
        i + 1
        for i, r in enumerate(rows)
        if not isinstance(r, dict) or not r.get("text") or r.get("label") in (None, "")
    ]
    if bad or not rows:
        raise UserError(f"rows {bad[:5]} lack a text or a label" if bad else "no rows", str(path))
    task_of = {str(r["text"]): str(r["task"]) for r in reversed(rows) if r.get("task") not in (None, "")}
    if any("split" in r for r in rows):
        odd = sorted({str(r.get("split")) for r in rows} - set(SPLITS))
        if odd:
            raise UserError(
                f"split {odd} is not one of {', '.join(SPLITS)} (or leave out 'split' on every row)", str(path)
            )
        train = [Example(str(r["text"]), str(r["label"])) for r in rows if r["split"] != "test"]
        test = [Example(str(r["text"]), str(r["label"])) for r in rows if r["split"] == "test"]
    else:
        examples = [Example(str(r["text"]), str(r["label"])) for r in rows]
        try:
            parts = stratified_split(examples, SplitSizes(cfg.test_fraction, min(cfg.test_fraction, 0.5)), seed)
        except ValueError as e:
            raise UserError(f"data.test_fraction: {e}", str(path)) from None
        train, test = parts.train + parts.validation, parts.test
    if not train or not test:
        raise UserError("no training row" if not train else "no held-out (test) row", str(path))
    labels = tuple(sorted({e.label for e in train} | {e.label for e in test}))
    index = {name: i for i, name in enumerate(labels)}
    train_y = [index[e.label] for e in train]
    keep = _cap_per_class(list(range(len(train))), train_y, cfg.max_per_class)
    test = test[: cfg.max_test] if cfg.max_test else test
    tasks = [task_of.get(train[i].text, "") for i in keep] if task_of else None
    return Labelled(
        labels=labels,
        train=[train[i].text for i in keep],
        train_y=[train_y[i] for i in keep],
        test=[e.text for e in test],
        test_y=[index[e.label] for e in test],
        train_tasks=tasks,
    )


def _holdout(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified (train, test) index arrays: round(fraction · n_c) of each class c held out (at least 1)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n = max(1, round(len(idx) * fraction))
        test.append(idx[:n])
        train.append(idx[n:])
    return np.sort(np.concatenate(train)), rng.permutation(np.concatenate(test))


def read_images(cfg: DataConfig, seed: int) -> Labelled:
    """Images (a tensor (n, c, h, w) per split, c 1 or 3) and targets (see the module doc)."""
    import torch

    path = Path(cfg.path or "")
    if not path.is_file():
        raise UserError("data file not found", str(path))
    if path.suffix != ".npz":
        raise UserError("an image data file is .npz (x_train, y_train, x_test, y_test or x, y)", str(path))
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read the arrays: {e}", str(path)) from None
    if {"x_train", "y_train", "x_test", "y_test"} <= arrays.keys():
        xtr, ytr, xte, yte = (arrays[k] for k in ("x_train", "y_train", "x_test", "y_test"))
        tasks = arrays.get("task_train")
    elif {"x", "y"} <= arrays.keys():
        tr, te = _holdout(arrays["y"], cfg.test_fraction, seed)
        xtr, ytr, xte, yte = arrays["x"][tr], arrays["y"][tr], arrays["x"][te], arrays["y"][te]
        tasks = arrays["task"][tr] if "task" in arrays else None
    else:
        raise UserError(
            f"expected arrays x_train, y_train, x_test, y_test (or x, y); found {sorted(arrays)}", str(path)
        )
    for name, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        if x.ndim not in (3, 4) or len(x) != len(y) or y.ndim != 1:
            raise UserError(
                f"{name}: images {x.shape} and labels {y.shape} do not match (n, h, w[, c]) / (n,)", str(path)
            )
    values = sorted(set(ytr.tolist()) | set(yte.tolist()))
    names = [str(v) for v in arrays["labels"].tolist()] if "labels" in arrays else [str(v) for v in values]
    if len(names) != len(values):
        raise UserError(f"{len(names)} label names for {len(values)} classes", str(path))
    index = {v: i for i, v in enumerate(values)}
    train_y = [index[v] for v in ytr.tolist()]
    keep = _cap_per_class(list(range(len(train_y))), train_y, cfg.max_per_class)
    n_test = min(len(yte), cfg.max_test or len(yte))

    def tensor(x: np.ndarray) -> torch.Tensor:
        """(n, c, h, w): uint8 kept as is (4x smaller than float), other types as float32."""
        t = torch.from_numpy(np.ascontiguousarray(x))
        t = t if t.dtype == torch.uint8 else t.float()
        t = t.unsqueeze(1) if t.dim() == 3 else t.permute(0, 3, 1, 2).contiguous()
        if t.shape[1] not in (1, 3):
            raise UserError(f"images have {t.shape[1]} channels (expected 1 or 3)", str(path))
        return t

    return Labelled(
        labels=tuple(names),
        train=tensor(xtr[keep]),
        train_y=[train_y[i] for i in keep],
        test=tensor(xte[:n_test]),
        test_y=[index[v] for v in yte[:n_test].tolist()],
        train_tasks=[str(tasks[i]) for i in keep] if tasks is not None else None,
    )
