"""FOLDOC (Free On-line Dictionary of Computing) entries labelled by subject (Debian package `dict-foldoc`).

The dictd file foldoc.dict.dz (gzip-compatible) lists entries: a headword line at column 0, then an indented
body whose first word is a subject tag such as `<networking>` or `<programming, language>`. The label is the
first subject of the tag; the text is "headword: body" with the tag removed, `{cross-reference}` braces dropped,
whitespace collapsed and the trailing date "(YYYY-MM-DD)" removed.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from bench.quality.corpora.missing import clean, require
from modelfusion.evaluate import Example

FOLDOC_FILE = Path("/usr/share/dictd/foldoc.dict.dz")
DEFAULT_CLASSES = (
    "company",
    "hardware",
    "jargon",
    "language",
    "mathematics",
    "networking",
    "operating system",
    "programming",
)
_TAG = re.compile(r"^<([^>]+)>\s*")
_DATE = re.compile(r"\(\d{4}-\d{2}-\d{2}\)\s*$")


def _entry(head: list[str], body: list[str]) -> Example | None:
    text = clean(" ".join(body))
    match = _TAG.match(text)
    if not head or match is None:
        return None
    label = match.group(1).split(",")[0].strip()
    definition = _DATE.sub("", text[match.end() :]).replace("{", "").replace("}", "").strip()
    headword = clean(" ".join(head)).split("%%%")[0]
    return Example(text=f"{headword}: {definition}", label=label) if definition else None


def parse_foldoc(text: str) -> list[Example]:
    """Entries of the uncompressed dictionary text (entries without a subject tag are skipped)."""
    out, head, body = [], [], []
    for line in text.splitlines():
        if not line.strip():
            if body:
                body.append("")
            continue
        if line[0].isspace():
            body.append(line)
        else:
            if body:
                ex = _entry(head, body)
                if ex is not None:
                    out.append(ex)
                head, body = [], []
            head.append(line)
    ex = _entry(head, body)
    return [*out, ex] if ex is not None else out


def load_foldoc(path: Path = FOLDOC_FILE, classes: tuple[str, ...] = DEFAULT_CLASSES) -> list[Example]:
    """FOLDOC entries whose first subject is in `classes`."""
    require(path, "apt-get install dict-foldoc")
    opener = gzip.open if path.suffix == ".dz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        entries = parse_foldoc(f.read())
    wanted = set(classes)
    return [e for e in entries if e.label in wanted]


def load_foldoc_subjects(path: Path = FOLDOC_FILE, top: int = 20, headword_only: bool = False) -> list[Example]:
    """FOLDOC entries of the `top` most frequent first subjects; `headword_only` keeps the headword alone."""
    from collections import Counter

    require(path, "apt-get install dict-foldoc")
    opener = gzip.open if path.suffix == ".dz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        entries = parse_foldoc(f.read())
    keep = {label for label, _ in Counter(e.label for e in entries).most_common(top)}
    out = [e for e in entries if e.label in keep]
    if headword_only:
        out = [Example(text=e.text.split(": ", 1)[0], label=e.label) for e in out]
    return out
