"""Rows of a task's data file: .jsonl (one JSON object a line) or .csv (a header row)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from modelfusion.errors import UserError


def read_rows(path: Path, other_suffix: str = "a data file is .jsonl or .csv") -> list[dict[str, Any]]:
    """Every row of `path` as a dict; a missing file, a line that is not JSON or another suffix is a UserError
    naming the file (`other_suffix` is the message for the last)."""
    if not path.is_file():
        raise UserError("data file not found", str(path))
    if path.suffix == ".jsonl":
        rows = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise UserError(f"line {n}: not JSON ({e.msg})", str(path)) from None
        return rows
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    raise UserError(other_suffix, str(path))
