"""Readers of the benchmark's text corpora (Debian and PyPI packages that install offline) into labelled examples.

These live in bench/, not in the library: they read fixed system paths (/usr/share/...), pick classes for the
benchmark's purposes, and change whenever the benchmark does (harder tasks, more classes). A user brings their own
data as `modelfusion.evaluate.Example`s and calls `modelfusion.evaluate.make_task`; nothing here is needed for that.
One file per corpus; every loader returns `list[Example]` and raises a UserError naming the package when its data
is not installed (`make data`).
"""

from bench.quality.corpora.chatterbot import load_chatterbot
from bench.quality.corpora.foldoc import load_foldoc, load_foldoc_subjects
from bench.quality.corpora.fortunes import load_fortune_files, load_fortunes
from bench.quality.corpora.wordnet import load_wordnet, load_wordnet_view

__all__ = [
    "load_chatterbot",
    "load_foldoc",
    "load_foldoc_subjects",
    "load_fortune_files",
    "load_fortunes",
    "load_wordnet",
    "load_wordnet_view",
]
