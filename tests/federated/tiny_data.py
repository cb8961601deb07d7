"""Tiny data files for the text and image federated tasks (keyword texts; blob images)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np

from tests.evaluate.tiny_text import WORDS

KEYWORDS = {"red": "color", "cat": "animal", "car": "vehicle", "sun": "sky"}


def text_rows(per_class: int = 30, seed: int = 0) -> list[dict]:
    """Texts of 5 filler words plus one keyword; label (and task) = the keyword's class."""
    rng = random.Random(seed)
    fillers = [w for w in WORDS if w not in KEYWORDS]
    rows = []
    for word, label in KEYWORDS.items():
        for _ in range(per_class):
            words = rng.sample(fillers, 5)
            words.insert(rng.randint(0, 5), word)
            rows.append({"text": " ".join(words), "label": label, "task": label})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def write_images(path: Path, n: int = 48, size: int = 12, classes: int = 3, seed: int = 0) -> Path:
    """uint8 grey images (n, size, size): class c is a bright square in corner c, plus noise; x, y arrays."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.integers(0, 60, size=(n, size, size), dtype=np.uint8)
    h = size // 2
    for i, c in enumerate(y):
        r, col = divmod(int(c), 2)
        x[i, r * h : (r + 1) * h, col * h : (col + 1) * h] = 230
    np.savez(path, x=x, y=y, labels=np.array([f"corner{c}" for c in range(classes)]))
    return path
