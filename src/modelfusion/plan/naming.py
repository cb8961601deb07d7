"""Generic tensor naming: which tensors belong to a numbered layer, and how many layers a model has.

No per-architecture table: a layer tensor is any name with a `<container>.<index>.` segment where the
container is one of the names transformer stacks use (Llama `model.layers.N`, GPT-2 `transformer.h.N`,
BERT `encoder.layer.N`, ViT/Whisper `blocks.N`, T5 `block.N`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

LAYER_PATTERN = re.compile(r"(^|\.)(layers|layer|h|blocks|block)\.(\d+)(\.|$)")
NUM_LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
PRE_LAYER_HINTS = (
    "embed",
    "wte",
    "wpe",
    "word_embeddings",
    "position_embeddings",
    "token_type",
    "patch",
    "cls_token",
    "pos_embed",
)


def layer_index(name: str) -> int | None:
    """The layer number in a tensor name, or None for tensors outside the layer stack."""
    m = LAYER_PATTERN.search(name)
    return int(m.group(3)) if m else None


def with_layer_index(name: str, new_index: int) -> str:
    """The same name with its layer number replaced (for slices that renumber layers)."""
    m = LAYER_PATTERN.search(name)
    if not m:
        return name
    return name[: m.start(3)] + str(new_index) + name[m.end(3) :]


def count_layers(names: Iterable[str], config: dict | None) -> int:
    """Layers from config.json when it says, else 1 + the highest layer index among tensor names."""
    if config:
        for key in NUM_LAYER_KEYS:
            value = config.get(key)
            if isinstance(value, int) and value > 0:
                return value
    indices = [i for i in (layer_index(n) for n in names) if i is not None]
    return max(indices) + 1 if indices else 0


def is_pre_layer(name: str) -> bool:
    """Non-layer tensors that come before the stack (embeddings); the rest (final norm, heads) come after."""
    lowered = name.lower()
    return any(h in lowered for h in PRE_LAYER_HINTS)


def layer_position(index: int, num_layers: int) -> float:
    """Position t in [0, 1] of the `index`-th layer of a slice of `num_layers` layers, for gradients.

    t = index / (num_layers - 1), counted within the slice (not the whole output), as mergekit 0.1.5 does:
    a recipe with slices [0, 2) and [2, 4) evaluates a gradient at t = 0, 1, 0, 1. A one-layer slice gets
    t = 1 (mergekit's value, measured). Tensors outside the layer stack are evaluated at t = 0.
    """
    return index / (num_layers - 1) if num_layers > 1 else 1.0
