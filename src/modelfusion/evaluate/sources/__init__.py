"""Readers of real text corpora that install offline (Debian packages, PyPI packages) into labelled examples."""

from modelfusion.evaluate.sources.chatterbot import load_chatterbot
from modelfusion.evaluate.sources.foldoc import load_foldoc
from modelfusion.evaluate.sources.fortunes import load_fortunes
from modelfusion.evaluate.sources.wordnet import load_wordnet

__all__ = ["load_chatterbot", "load_foldoc", "load_fortunes", "load_wordnet"]
