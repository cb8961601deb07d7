"""Which part of a transformer a tensor belongs to, from its name alone (no per-architecture table).

Kinds: embedding, attention, mlp, norm, head, other. Rules, first match wins, on the lower-cased name:
norm (`norm`, `ln_`, `ln1`, `ln_f`), embedding (`embed`, `wte`, `wpe`, `token_type`, `patch`, `pos_embed`, `cls_token`),
attention (`attn`, `attention`, `q_proj`/`k_proj`/`v_proj`/`o_proj`, `query`/`key`/`value`, `qkv`),
mlp (`mlp`, `ffn`, `feed_forward`, `intermediate`, `fc1`/`fc2`, `gate_proj`/`up_proj`/`down_proj`, `c_fc`, `experts`,
`w1`/`w2`/`w3`, and inside a numbered layer `output.dense`, BERT's MLP output), head (outside the layer stack:
`lm_head`, `classifier`, `score`, `pooler`, `head`). Everything else is `other`.
"""

from __future__ import annotations

import re

from modelfusion.plan.naming import layer_index

KINDS = ("embedding", "attention", "mlp", "norm", "head", "other")

_NORM = re.compile(r"norm|(^|\.)ln(_|\d|\.|$)")
_EMBEDDING = re.compile(r"embed|(^|\.)(wte|wpe|shared)(\.|$)|token_type|patch|cls_token")
_ATTENTION = re.compile(r"attn|attention|(^|\.)(q|k|v|o|qkv)_proj(\.|$)|(^|\.)(query|key|value|qkv)(\.|$)")
_MLP = re.compile(
    r"mlp|ffn|feed_forward|intermediate|(^|\.)(fc1|fc2|gate_proj|up_proj|down_proj|c_fc|w1|w2|w3)(\.|$)|experts"
)
_LAYER_MLP_OUT = re.compile(r"(^|\.)output\.dense(\.|$)")
_HEAD = re.compile(r"lm_head|classifier|(^|\.)score(\.|$)|pooler|head")


def module_kind(name: str) -> str:
    """The kind of module tensor `name` belongs to (one of KINDS)."""
    n = name.lower()
    if _NORM.search(n):
        return "norm"
    if _EMBEDDING.search(n):
        return "embedding"
    if _ATTENTION.search(n):
        return "attention"
    if _MLP.search(n):
        return "mlp"
    in_layer = layer_index(name) is not None
    if in_layer and _LAYER_MLP_OUT.search(n):
        return "mlp"
    if not in_layer and _HEAD.search(n):
        return "head"
    return "other"


def group_of(name: str) -> tuple[int | None, str]:
    """(layer index or None, module kind): the finest group statistics are accumulated in."""
    return layer_index(name), module_kind(name)
