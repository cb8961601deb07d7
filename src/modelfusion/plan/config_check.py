"""Does config.json agree with the tensors? A generic plan-time check, no table per architecture.

Two facts hold for every Hugging Face checkpoint that transformers can load:
- the token embedding (a 2-D tensor named like `embed_tokens`, `word_embeddings`, `wte`, `shared`, ...) has
  shape [vocab_size, embedding_size or hidden_size];
- the layer count (`num_hidden_layers`, `n_layer`, ...) equals the length of at least one numbered layer stack
  (`model.layers.N`, `transformer.h.N`, ...), and that stack has tensors for every index 0..N-1.
A checkpoint that breaks one was edited or truncated; merging it would give a model that cannot be loaded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from modelfusion.checkpoint import Checkpoint, TensorInfo
from modelfusion.plan.naming import LAYER_PATTERN, NUM_LAYER_KEYS

EMBEDDING_PATTERN = re.compile(
    r"(^|\.)(embed_tokens|word_embeddings|wte|embed_in|shared|tok_embeddings|token_embedding)\.weight$"
)
HIDDEN_KEYS = ("embedding_size", "hidden_size", "n_embd", "d_model")
"""Width of the token embedding: `embedding_size` first (ALBERT factorises it), then the hidden size."""


def _config_int(config: Mapping, keys: tuple[str, ...]) -> tuple[str, int] | None:
    for key in keys:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return key, value
    return None


def _embedding_problems(where: str, config: Mapping, infos: Mapping[str, TensorInfo]) -> list[str]:
    embeddings = [i for n, i in infos.items() if EMBEDDING_PATTERN.search(n) and len(i.shape) == 2]
    if not embeddings:
        return []
    emb = min(embeddings, key=lambda i: i.name.count("."))
    problems = []
    vocab = _config_int(config, ("vocab_size",))
    if vocab and emb.shape[0] != vocab[1]:
        problems.append(f"{where}: config.json says vocab_size={vocab[1]} but '{emb.name}' has {emb.shape[0]} rows")
    width = _config_int(config, HIDDEN_KEYS)
    if width and emb.shape[1] != width[1]:
        problems.append(f"{where}: config.json says {width[0]}={width[1]} but '{emb.name}' is {emb.shape[1]} wide")
    return problems


def _layer_problems(where: str, config: Mapping, infos: Mapping[str, TensorInfo]) -> list[str]:
    declared = _config_int(config, NUM_LAYER_KEYS)
    if declared is None:
        return []
    key, n = declared
    stacks: dict[str, set[int]] = {}
    for name in infos:
        m = LAYER_PATTERN.search(name)
        if m:
            stacks.setdefault(name[: m.start(3)], set()).add(int(m.group(3)))
    if not stacks:
        return []
    matching = [s for s in stacks.values() if max(s) + 1 == n]
    if not matching:
        found = ", ".join(f"{p}0..{max(s)}" for p, s in sorted(stacks.items()))
        return [f"{where}: config.json says {key}={n} but the weights hold layers {found}"]
    holes = sorted(set(range(n)) - max(matching, key=len))
    if holes:
        return [f"{where}: config.json says {key}={n} but layers {holes[:10]} have no tensors"]
    return []


def config_problems(checkpoints: Mapping[str, Checkpoint]) -> list[str]:
    """Every disagreement between a model's config.json and its tensor shapes."""
    problems: list[str] = []
    for label, ckpt in checkpoints.items():
        if not ckpt.config:
            continue
        where = str(ckpt.folder / "config.json") if ckpt.folder else label
        problems += _embedding_problems(where, ckpt.config, ckpt.infos)
        problems += _layer_problems(where, ckpt.config, ckpt.infos)
    return problems


def _architecture(config: Mapping) -> tuple[str | None, tuple[str, ...] | None]:
    archs = config.get("architectures")
    return config.get("model_type"), tuple(archs) if isinstance(archs, list) else None


def architecture_problems(checkpoints: Mapping[str, Checkpoint]) -> list[str]:
    """Models whose config.json names a different `model_type` or `architectures` than the first model's, which
    mergekit refuses unless --allow-crimes: equal shapes do not make two architectures' tensors mean the same.
    A model without config.json (or without these keys) is not compared."""
    seen: list[tuple[str, str | None, tuple[str, ...] | None]] = []
    for label, ckpt in checkpoints.items():
        if ckpt.config:
            seen.append((label, *_architecture(ckpt.config)))
    if not seen:
        return []
    first, model_type, archs = seen[0]
    odd = [
        (label, t, a)
        for label, t, a in seen[1:]
        if (t is not None and model_type is not None and t != model_type)
        or (a is not None and archs is not None and a != archs)
    ]
    if not odd:
        return []

    def show(label: str, t: str | None, a: tuple[str, ...] | None) -> str:
        return f"{label} ({t or '?'}, {'/'.join(a) if a else '?'})"

    others = ", ".join(show(*o) for o in odd)
    return [
        f"models of different architectures: {show(first, model_type, archs)} vs {others}; "
        "pass --allow-crimes (allow_crimes=True) to merge them anyway, as in mergekit"
    ]
