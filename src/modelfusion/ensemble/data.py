"""Load a labelled data set from CSV or JSONL: text or numeric feature columns, and a label column."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelfusion.errors import UserError


@dataclass
class Dataset:
    X: np.ndarray  # (n,) strings for text, (n, d) float64 for features
    y: np.ndarray
    feature_names: list[str]
    is_text: bool


def _read_rows(path: Path, fmt: str) -> list[dict[str, Any]]:
    where = str(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            if fmt == "csv":
                return list(csv.DictReader(f))
            rows = []
            for i, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise UserError(f"line {i} is not valid JSON: {e.msg}", where=where) from None
                    if not isinstance(row, dict):
                        raise UserError(f"line {i} is not a JSON object", where=where)
                    rows.append(row)
            return rows
    except FileNotFoundError:
        raise UserError("data file not found", where=where) from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read data: {e}", where=where) from None


def _labels(values: list[Any]) -> np.ndarray:
    """Integer labels when every value is an integer (so '0'/'1' match a model's [0, 1]), else strings."""
    try:
        ints = [int(v) for v in values]
        if all(str(i) == str(v).strip() or isinstance(v, int) for i, v in zip(ints, values)):
            return np.asarray(ints)
    except (TypeError, ValueError):
        pass
    try:
        return np.asarray([float(v) for v in values])
    except (TypeError, ValueError):
        return np.asarray([str(v) for v in values])


def load_dataset(
    path: str | Path, label: str, text: str | None, features: list[str] | None, fmt: str | None = None
) -> Dataset:
    path = Path(path)
    where = str(path)
    fmt = fmt or ("jsonl" if path.suffix.lower() in (".jsonl", ".json", ".ndjson") else "csv")
    rows = _read_rows(path, fmt)
    if not rows:
        raise UserError("no data rows", where=where)
    columns = list(rows[0].keys())
    wanted = [label] + ([text] if text else list(features or []))
    for col in wanted:
        if col not in columns:
            raise UserError(f"no column {col!r} (columns: {', '.join(map(str, columns))})", where=where)
    for i, row in enumerate(rows, start=2 if fmt == "csv" else 1):
        missing = [c for c in wanted if row.get(c) in (None, "")]
        if missing:
            raise UserError(f"{'row' if fmt == 'csv' else 'line'} {i} has no value for {missing[0]!r}", where=where)
    y = _labels([r[label] for r in rows])
    if text:
        return Dataset(np.asarray([str(r[text]) for r in rows], dtype=object), y, [text], True)
    names = list(features) if features else [c for c in columns if c != label]
    X = np.empty((len(rows), len(names)))
    for i, row in enumerate(rows):
        for j, col in enumerate(names):
            try:
                X[i, j] = float(row[col])
            except (TypeError, ValueError, KeyError):
                raise UserError(
                    f"column {col!r} is not numeric (row {i + 1}: {row.get(col)!r}); use `text:` for text", where=where
                ) from None
    return Dataset(X, y, names, False)


def load_features(path: str | Path, text: str | None, features: list[str]) -> np.ndarray:
    """Features to predict on: a CSV / JSONL file with the training's feature columns (or its text column) by name,
    other columns ignored; or a .npy file holding a 2-d numeric array with the feature columns in training order
    (numeric features only; read with allow_pickle=False)."""
    path = Path(path)
    where = str(path)
    if path.suffix.lower() == ".npy":
        return _load_npy(path, text, features)
    fmt = "jsonl" if path.suffix.lower() in (".jsonl", ".json", ".ndjson") else "csv"
    rows = _read_rows(path, fmt)
    if not rows:
        raise UserError("no data rows", where=where)
    wanted = [text] if text else features
    for col in wanted:
        if col not in rows[0]:
            raise UserError(f"no column {col!r} (columns: {', '.join(map(str, rows[0]))})", where=where)
    if text:
        return np.asarray([str(r.get(text, "")) for r in rows], dtype=object)
    X = np.empty((len(rows), len(features)))
    for i, row in enumerate(rows):
        for j, col in enumerate(features):
            try:
                X[i, j] = float(row[col])
            except (TypeError, ValueError, KeyError):
                raise UserError(f"column {col!r} is not numeric (row {i + 1}: {row.get(col)!r})", where=where) from None
    return X


def _load_npy(path: Path, text: str | None, features: list[str]) -> np.ndarray:
    where = str(path)
    if text:
        raise UserError(
            f"this ensemble reads the text column {text!r}: give a CSV or JSONL file, not .npy", where=where
        )
    try:
        X = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UserError("data file not found", where=where) from None
    except (OSError, ValueError) as e:
        raise UserError(f"not a numeric .npy array: {e}", where=where) from None
    if X.ndim != 2 or X.shape[1] != len(features) or not np.issubdtype(X.dtype, np.number):
        raise UserError(
            f"expected a 2-d numeric array with {len(features)} columns ({', '.join(features)}), "
            f"got shape {X.shape} of {X.dtype}",
            where=where,
        )
    return X.astype(np.float64)
