"""Fortune cookies labelled by the category file they ship in (Debian package `fortunes`).

Each file under /usr/share/games/fortunes (computers, law, food, ...) holds entries separated by lines that are
a single `%`. The example text is one entry with whitespace collapsed; the label is the file name.
"""

from __future__ import annotations

from pathlib import Path

from bench.quality.corpora.missing import clean, require
from modelfusion.evaluate import Example

FORTUNES_DIR = Path("/usr/share/games/fortunes")
DEFAULT_CLASSES = ("computers", "education", "food", "law", "politics", "science")


def parse_fortune_file(text: str, label: str) -> list[Example]:
    """Entries of one fortune file (separated by `%` lines), empty ones skipped."""
    entries, current = [], []
    for line in text.splitlines():
        if line.strip() == "%":
            entries.append(clean(" ".join(current)))
            current = []
        else:
            current.append(line)
    entries.append(clean(" ".join(current)))
    return [Example(text=e, label=label) for e in entries if e]


def load_fortunes(root: Path = FORTUNES_DIR, classes: tuple[str, ...] = DEFAULT_CLASSES) -> list[Example]:
    """Every fortune of the category files named in `classes`."""
    require(root, "apt-get install fortunes")
    out = []
    for label in classes:
        path = require(root / label, "apt-get install fortunes")
        out += parse_fortune_file(path.read_text(encoding="utf-8", errors="replace"), label)
    return out


def load_fortune_files(root: Path = FORTUNES_DIR, min_entries: int = 200) -> list[Example]:
    """Every fortune labelled by its source file, for the files holding at least `min_entries` fortunes
    (data files `*.dat`, `*.u8` and folders skipped)."""
    require(root, "apt-get install fortunes")
    out = []
    for path in sorted(root.iterdir()):
        if path.is_file() and "." not in path.name:
            entries = parse_fortune_file(path.read_text(encoding="utf-8", errors="replace"), path.name)
            if len(entries) >= min_entries:
                out += entries
    return out
