"""WordNet noun glosses labelled by lexicographer file (Debian package `wordnet-base`).

Every synset line of `data.noun` holds its lexicographer file number (field 2; names from lexnames(5WN)), its
words and, after `|`, its gloss. The example text is "first word: definition" (usage examples in quotes after
the definition are dropped); the label is the lexicographer file without the `noun.` prefix (animal, plant, ...).
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.quality.corpora.missing import clean, require
from modelfusion.evaluate import Example

WORDNET_DIR = Path("/usr/share/wordnet")
NOUN_FILES = (
    *("Tops", "act", "animal", "artifact", "attribute", "body", "cognition", "communication", "event", "feeling"),
    *("food", "group", "location", "motive", "object", "person", "phenomenon", "plant", "possession", "process"),
    *("quantity", "relation", "shape", "state", "substance", "time"),
)
"""Lexicographer files 03..28 in lexnames(5WN) order."""
DEFAULT_CLASSES = ("animal", "artifact", "body", "food", "location", "person", "plant", "substance")


def parse_noun_line(line: str) -> Example | None:
    """One data.noun line -> Example, or None for license lines and malformed lines."""
    if line.startswith("  ") or "|" not in line:
        return None
    fields, gloss = line.split("|", 1)
    parts = fields.split()
    if len(parts) < 5 or not parts[1].isdigit():
        return None
    number = int(parts[1]) - 3
    if not 0 <= number < len(NOUN_FILES):
        return None
    word = parts[4].replace("_", " ")
    definition = gloss.split('; "', 1)[0].strip().rstrip(";")
    return Example(text=clean(f"{word}: {definition}"), label=NOUN_FILES[number])


def load_wordnet(root: Path = WORDNET_DIR, classes: tuple[str, ...] = DEFAULT_CLASSES) -> list[Example]:
    """Noun glosses whose lexicographer file is in `classes`."""
    path = require(root / "data.noun", "apt-get install wordnet-base")
    wanted = set(classes)
    out = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            ex = parse_noun_line(line)
            if ex is not None and ex.label in wanted:
                out.append(ex)
    return out


VERB_FILES = (
    *("body", "change", "cognition", "communication", "competition", "consumption", "contact", "creation"),
    *("emotion", "motion", "perception", "possession", "social", "stative", "weather"),
)
"""Verb lexicographer files 29..43 in lexnames(5WN) order."""
_QUOTED = re.compile(r'"([^"]+)"')


def parse_synset(line: str, pos: str) -> tuple[str, str, str, list[str]] | None:
    """One data.<pos> line -> (lexicographer file, first word, definition, usage examples), or None."""
    if line.startswith("  ") or "|" not in line:
        return None
    fields, gloss = line.split("|", 1)
    parts = fields.split()
    if len(parts) < 5 or not parts[1].isdigit():
        return None
    names, first = (NOUN_FILES, 3) if pos == "noun" else (VERB_FILES, 29)
    number = int(parts[1]) - first
    if not 0 <= number < len(names):
        return None
    definition = clean(gloss.split('; "', 1)[0].strip().rstrip(";"))
    return names[number], parts[4].replace("_", " "), definition, [clean(q) for q in _QUOTED.findall(gloss)]


def load_wordnet_view(
    pos: str, view: str, root: Path = WORDNET_DIR, exclude: tuple[str, ...] = ("Tops",)
) -> list[Example]:
    """Every synset of data.<pos> (noun or verb) as one view -> lexicographer file: `lemma` (the first word alone),
    `definition` (the gloss without word or examples) or `usage` (each quoted usage example)."""
    path = require(root / f"data.{pos}", "apt-get install wordnet-base")
    out = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            parsed = parse_synset(line, pos)
            if parsed is None or parsed[0] in exclude:
                continue
            label, word, definition, usages = parsed
            texts = {"lemma": [word], "definition": [definition], "usage": usages}[view]
            out += [Example(text=t, label=label) for t in texts if t]
    return out
