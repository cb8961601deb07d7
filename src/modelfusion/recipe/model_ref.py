"""Model references in recipes: a path (or Hub id), or mergekit's `BASE+ADAPTER`, a LoRA adapter applied to its
base model on the fly (modelfusion.checkpoint.lora_applied)."""

from __future__ import annotations


def split_adapter(ref: str) -> tuple[str, str] | None:
    """`BASE+ADAPTER` -> (BASE, ADAPTER); None when `ref` has no `+`, more than one, or an empty side.

    A reference that names an existing path is a path even if it holds a `+`: callers try it whole first."""
    if ref.count("+") != 1:
        return None
    base, adapter = (part.strip() for part in ref.split("+"))
    return (base, adapter) if base and adapter else None
