"""The benchmark's text tasks by name: which corpus each reads, and its seeded held-out splits.

A task here is `modelfusion.evaluate.make_task` over one corpus of `bench.quality.corpora`; a new task is one
corpus reader plus one entry in TASK_SOURCES.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.quality.corpora import (
    load_chatterbot,
    load_foldoc,
    load_foldoc_subjects,
    load_fortune_files,
    load_fortunes,
    load_wordnet,
    load_wordnet_view,
)
from bench.quality.corpora.probing import (
    load_bigram_shift,
    load_clause_swap,
    load_odd_word,
    load_sentence_length,
    load_sentence_order,
    load_truncated,
)
from modelfusion.errors import UserError
from modelfusion.evaluate import Example, SplitSizes, TextTask, make_task

TASK_SOURCES: dict[str, tuple[str, Callable[[], list[Example]]]] = {
    "wordnet": ("WordNet noun gloss -> lexicographer file (Debian wordnet-base)", load_wordnet),
    "fortunes": ("fortune cookie -> category file (Debian fortunes)", load_fortunes),
    "chatterbot": ("chat conversation -> topic (PyPI chatterbot-corpus)", load_chatterbot),
    "foldoc": ("computing dictionary entry -> subject (Debian dict-foldoc)", load_foldoc),
    # The harder suite (issue 15): many classes, views of the text a frozen sentence embedding does not separate.
    "wordnet_lemmas": (
        "WordNet noun lemma alone -> lexicographer file, 25 classes (Debian wordnet-base)",
        lambda: load_wordnet_view("noun", "lemma"),
    ),
    "wordnet_definitions": (
        "WordNet noun definition without its word -> lexicographer file, 25 classes (Debian wordnet-base)",
        lambda: load_wordnet_view("noun", "definition"),
    ),
    "wordnet_verb_usage": (
        "WordNet verb usage example -> verb lexicographer file, 15 classes (Debian wordnet-base)",
        lambda: load_wordnet_view("verb", "usage"),
    ),
    "fortune_files": (
        "fortune cookie -> the file it ships in, files of >= 200 fortunes (Debian fortunes)",
        load_fortune_files,
    ),
    "foldoc_subjects": (
        "computing dictionary entry -> subject, 20 most frequent subjects (Debian dict-foldoc)",
        load_foldoc_subjects,
    ),
    "foldoc_headwords": (
        "computing dictionary headword alone -> subject, 20 most frequent subjects (Debian dict-foldoc)",
        lambda: load_foldoc_subjects(headword_only=True),
    ),
    # Probing tasks (SentEval's manner) on real sentences: structure a frozen mean-pooled embedding loses.
    "bigram_shift": (
        "WordNet usage example -> two adjacent words swapped or not (Debian wordnet-base)",
        load_bigram_shift,
    ),
    "odd_word": (
        "WordNet usage example -> one word replaced by a random word or not (Debian wordnet-base)",
        load_odd_word,
    ),
    "clause_swap": (
        "WordNet usage example -> clauses around a coordinator swapped or not (Debian wordnet-base)",
        load_clause_swap,
    ),
    "sentence_length": (
        "WordNet usage example -> its number of words in 7 bins (Debian wordnet-base)",
        load_sentence_length,
    ),
    "truncated": ("WordNet usage example -> cut short or complete (Debian wordnet-base)", load_truncated),
    "sentence_order": (
        "two consecutive fortune sentences -> in order or swapped (Debian fortunes)",
        load_sentence_order,
    ),
}
"""Task name -> (description, loader of its examples)."""


def load_task(name: str, sizes: SplitSizes, seed: int = 0) -> TextTask:
    """One benchmark task by name (see TASK_SOURCES) with fixed seeded splits."""
    if name not in TASK_SOURCES:
        raise UserError(f"unknown task '{name}' (known: {', '.join(TASK_SOURCES)})")
    description, load = TASK_SOURCES[name]
    return make_task(name, description, load(), sizes, seed)
