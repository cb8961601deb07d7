"""Data files for the federated benchmark's real tasks, written once into a work folder.

- text: WordNet noun glosses labelled by lexicographer file (8 classes: artifact, person, plant, animal, location,
  substance, food, body), read by bench.quality.corpora.load_wordnet (Debian `wordnet-base`); at most
  `per_class` glosses of each class (a seeded sample) as text,label JSONL. The simulation splits it (20 % of each
  class held out, seeded) and caps training examples per class.
- image: Fashion-MNIST (Debian `dataset-fashion-mnist`, /usr/share/datasets/fashion-mnist) as an .npz with
  x_train, y_train, x_test, y_test (uint8 28x28) and the 10 class names.
"""

from __future__ import annotations

import gzip
import json
import random
import struct
from pathlib import Path

import numpy as np

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_LABELS = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")


def write_text(folder: Path, per_class: int = 1500, seed: int = 0) -> Path:
    from bench.quality.corpora import load_wordnet

    path = folder / f"wordnet-{per_class}.jsonl"
    if path.is_file():
        return path
    by_class: dict[str, list[str]] = {}
    for e in load_wordnet():
        by_class.setdefault(e.label, []).append(e.text)
    rng = random.Random(seed)
    rows = []
    for label in sorted(by_class):
        texts = sorted(set(by_class[label]))
        rows += [{"text": t, "label": label} for t in rng.sample(texts, min(per_class, len(texts)))]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)
    return path


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def write_images(folder: Path) -> Path:
    path = folder / "fashion-mnist.npz"
    if path.is_file():
        return path
    if not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file():
        raise SystemExit(f"Fashion-MNIST not found in {FASHION_DIR}: apt-get install dataset-fashion-mnist")
    arrays = {
        "x_train": _read_idx(FASHION_DIR / "train-images-idx3-ubyte.gz"),
        "y_train": _read_idx(FASHION_DIR / "train-labels-idx1-ubyte.gz"),
        "x_test": _read_idx(FASHION_DIR / "t10k-images-idx3-ubyte.gz"),
        "y_test": _read_idx(FASHION_DIR / "t10k-labels-idx1-ubyte.gz"),
        "labels": np.array(FASHION_LABELS),
    }
    tmp = folder / "fashion-mnist.tmp.npz"
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return path
