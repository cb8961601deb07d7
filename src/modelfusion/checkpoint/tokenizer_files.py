"""Reading a model folder's vocabulary, and writing a merged tokenizer (base tokenizer + added tokens).

Vocabulary sources, first found wins: tokenizer.json (read with the `tokenizers` library, added tokens
included), vocab.json (GPT-2 style), vocab.txt (BERT style, one token per line), else transformers'
AutoTokenizer (sentencepiece-only folders). None when the folder has no tokenizer at all.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from modelfusion.checkpoint.companions import TOKENIZER_FILES
from modelfusion.errors import CheckpointError


@dataclass(frozen=True)
class Vocab:
    ids: dict[str, int]
    """token -> id."""
    special: frozenset[str]
    """Tokens the tokenizer marks as special (kept special when added to a merged tokenizer)."""


def read_vocab(folder: Path | None) -> Vocab | None:
    """The vocabulary of the tokenizer in `folder`, or None if it has none."""
    if folder is None:
        return None
    try:
        if (folder / "tokenizer.json").is_file():
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
            special = frozenset(a.content for a in tok.get_added_tokens_decoder().values() if a.special)
            return Vocab(tok.get_vocab(with_added_tokens=True), special)
        if (folder / "vocab.json").is_file():
            ids = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
            return Vocab({str(k): int(v) for k, v in ids.items()}, frozenset())
        if (folder / "vocab.txt").is_file():
            lines = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
            return Vocab({t: i for i, t in enumerate(lines)}, frozenset())
        if any((folder / n).is_file() for n in ("tokenizer.model", "spiece.model", "sentencepiece.bpe.model")):
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(str(folder))
            return Vocab(dict(tok.get_vocab()), frozenset(tok.all_special_tokens))
    except Exception as e:  # the tokenizers library raises plain Exception on a bad file
        raise CheckpointError(f"cannot read the tokenizer: {e}", where=str(folder)) from None
    return None


def write_tokenizer(source: Path, staging: Path, added: list[tuple[str, bool]], expected: dict[str, int]) -> None:
    """Copy the tokenizer files of `source` into `staging`, then add `added` tokens (content, special).

    `expected` is the planned token -> id map; the written tokenizer is checked against it.
    """
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, staging / name)
    if not added:
        return
    if (source / "tokenizer.json").is_file():
        from tokenizers import AddedToken, Tokenizer

        tok = Tokenizer.from_file(str(source / "tokenizer.json"))
        for content, special in added:
            if special:
                tok.add_special_tokens([AddedToken(content, special=True, normalized=False)])
            else:
                tok.add_tokens([AddedToken(content, normalized=True)])
        tok.save(str(staging / "tokenizer.json"))
        got = tok.get_vocab(with_added_tokens=True)
    else:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(source))
        for content, special in added:
            tok.add_tokens([content], special_tokens=special)
        tok.save_pretrained(str(staging))
        got = dict(tok.get_vocab())
    wrong = [t for t, i in expected.items() if got.get(t) != i]
    if wrong:
        raise CheckpointError(
            f"the merged tokenizer gives token {wrong[0]!r} id {got.get(wrong[0])}, planned {expected[wrong[0]]} "
            "(the source tokenizer's ids are not contiguous)",
            where=str(source),
        )
