"""Chat conversations labelled by topic (PyPI package `chatterbot-corpus`, English part).

Each `data/english/<topic>.yml` holds `conversations:`, a list of turn lists. The example text is one
conversation's turns joined with " / "; the label is the file's topic (the file name: ai, coding, trivia, ...).
The topics are unequal in size (literature has 43 conversations, trivia 261): caps in the split make the large
ones no larger than the cap, so classes are balanced only down to the smallest topic's size. tech_support is left
out by default: its 1050 conversations are 10 distinct ones repeated.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from bench.quality.corpora.missing import clean, require
from modelfusion.errors import UserError
from modelfusion.evaluate import Example

DEFAULT_CLASSES = ("ai", "coding", "emotion", "literature", "psychology", "trivia")


def default_root() -> Path:
    spec = importlib.util.find_spec("chatterbot_corpus")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("Python package not installed; `pip install chatterbot-corpus`", "chatterbot_corpus")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "english"


def parse_conversations(data: object, label: str, where: str) -> list[Example]:
    """Examples from one parsed topic file."""
    if not isinstance(data, dict) or not isinstance(data.get("conversations"), list):
        raise UserError("expected a mapping with a 'conversations' list", where=where)
    out = []
    for turns in data["conversations"]:
        if isinstance(turns, list):
            text = clean(" / ".join(str(t) for t in turns if t is not None))
            if text:
                out.append(Example(text=text, label=label))
    return out


def load_chatterbot(root: Path | None = None, classes: tuple[str, ...] = DEFAULT_CLASSES) -> list[Example]:
    """Every conversation of the topic files named in `classes`."""
    import yaml

    root = root if root is not None else default_root()
    out = []
    for label in classes:
        path = require(root / f"{label}.yml", "pip install chatterbot-corpus")
        out += parse_conversations(yaml.safe_load(path.read_text(encoding="utf-8")), label, str(path))
    return out
