"""Linguistic probing tasks built from real sentences, in the manner of SentEval (Conneau et al. 2018).

A mean-pooled sentence embedding keeps *what* a sentence is about and loses much of *how* it is put together, so a
frozen all-MiniLM-L6-v2 with a linear probe does poorly on word order and structure, while fine-tuning the encoder
learns them. That is what a merge benchmark needs: tasks that only a moved encoder solves.

Sentences are real: WordNet's quoted usage examples (all four parts of speech, Debian `wordnet-base`) and the
sentences of fortune cookies (Debian `fortunes`). Each source sentence is used once, either intact or perturbed (a
fixed hash of the sentence decides which and how, independent of the split seed), so a perturbed sentence and its
original never sit in different splits.

- `bigram_shift` (SentEval BShift): two adjacent words swapped, or not.
- `odd_word` (close to SentEval SOMO): one word replaced by a random word of the corpus vocabulary, or not.
- `clause_swap` (close to SentEval CoordInv): the two clauses around a coordinating word swapped, or not.
- `sentence_order`: two consecutive fortune sentences in their order, or swapped.
- `sentence_length` (SentEval SentLen): the number of words, in 7 bins.
- `truncated`: the sentence cut after at least half its words (final punctuation dropped on both sides), or not.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from bench.quality.corpora.fortunes import FORTUNES_DIR, parse_fortune_file
from bench.quality.corpora.missing import clean, require
from bench.quality.corpora.wordnet import _QUOTED, WORDNET_DIR
from modelfusion.evaluate import Example

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
_COORDINATORS = (" and ", " but ", " or ", " so ", " because ", " while ", " although ")


def _rng(text: str, task: str) -> random.Random:
    digest = hashlib.sha256(f"{task}:{text}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


@lru_cache(maxsize=4)
def usage_sentences(root: Path = WORDNET_DIR) -> tuple[str, ...]:
    """WordNet's quoted usage examples of every part of speech with at least 5 words, deduplicated, file order."""
    seen: dict[str, None] = {}
    for pos in ("noun", "verb", "adj", "adv"):
        path = require(root / f"data.{pos}", "apt-get install wordnet-base")
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue
                for q in _QUOTED.findall(line.split("|", 1)[1]):
                    text = clean(q)
                    if len(text.split()) >= 5:
                        seen.setdefault(text, None)
    return tuple(seen)


def _perturbed(name: str, perturb: Callable[[str, random.Random], str | None], texts) -> list[Example]:
    """Half the texts (by hash) perturbed with `perturb` (None: not perturbable, dropped), half intact."""
    out = []
    for text in texts:
        rng = _rng(text, name)
        if rng.random() < 0.5:
            out.append(Example(text=text, label="intact"))
            continue
        changed = perturb(text, rng)
        if changed is not None and changed != text:
            out.append(Example(text=changed, label="perturbed"))
    return out


def _shift(text: str, rng: random.Random) -> str | None:
    words = text.split()
    i = rng.randrange(len(words) - 1)
    if words[i] == words[i + 1]:
        return None
    words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def load_bigram_shift(root: Path = WORDNET_DIR) -> list[Example]:
    return _perturbed("bigram_shift", _shift, usage_sentences(root))


def load_odd_word(root: Path = WORDNET_DIR) -> list[Example]:
    texts = usage_sentences(root)
    vocab = sorted({w for s in texts for w in s.split() if w.isalpha() and len(w) >= 3})

    def odd(text: str, rng: random.Random) -> str | None:
        words = text.split()
        slots = [i for i, w in enumerate(words) if w.isalpha() and len(w) >= 3]
        if not slots:
            return None
        words[rng.choice(slots)] = vocab[rng.randrange(len(vocab))]
        return " ".join(words)

    return _perturbed("odd_word", odd, texts)


def _swap_clauses(text: str, rng: random.Random) -> str | None:
    body = text.rstrip(".!?")
    for word in _COORDINATORS:
        if word in body:
            left, right = body.split(word, 1)
            if len(left.split()) >= 2 and len(right.split()) >= 2:
                return f"{right}{word}{left}"
    return None


def load_clause_swap(root: Path = WORDNET_DIR) -> list[Example]:
    texts = [t for t in usage_sentences(root) if any(w in t.rstrip(".!?") for w in _COORDINATORS)]
    return [
        Example(text=e.text.rstrip(".!?") if e.label == "intact" else e.text, label=e.label)
        for e in _perturbed("clause_swap", _swap_clauses, texts)
    ]


def _truncate(text: str, rng: random.Random) -> str | None:
    words = text.split()
    keep = rng.randrange((len(words) + 1) // 2, len(words))
    return " ".join(words[:keep])


def load_truncated(root: Path = WORDNET_DIR) -> list[Example]:
    stripped = [t.rstrip(".!?") for t in usage_sentences(root)]
    return _perturbed("truncated", _truncate, stripped)


def fortune_sentence_pairs(root: Path = FORTUNES_DIR) -> list[str]:
    """The first two sentences (each 3-25 words) of every fortune that has two, joined by a space."""
    require(root, "apt-get install fortunes")
    out: dict[str, None] = {}
    for path in sorted(root.iterdir()):
        if not path.is_file() or "." in path.name:
            continue
        for ex in parse_fortune_file(path.read_text(encoding="utf-8", errors="replace"), path.name):
            parts = _SENTENCE_END.split(ex.text)
            if len(parts) >= 2 and all(3 <= len(p.split()) <= 25 for p in parts[:2]):
                out.setdefault(f"{parts[0]} {parts[1]}", None)
    return list(out)


def _swap_sentences(text: str, rng: random.Random) -> str | None:
    parts = _SENTENCE_END.split(text)
    if len(parts) != 2:
        return None
    return f"{parts[1]} {parts[0]}"


def load_sentence_order(root: Path = FORTUNES_DIR) -> list[Example]:
    return _perturbed("sentence_order", _swap_sentences, fortune_sentence_pairs(root))


def _length_bin(n: int) -> str:
    return str(n) if n <= 9 else ("10-11" if n <= 11 else "12+")


def load_sentence_length(root: Path = WORDNET_DIR) -> list[Example]:
    """SentEval's SentLen: the number of words of a usage example, in 7 bins (5, 6, 7, 8, 9, 10-11, 12+)."""
    return [Example(text=t, label=_length_bin(len(t.split()))) for t in usage_sentences(root)]
