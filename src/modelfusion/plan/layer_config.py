"""config.json of a merge whose layer stack differs from the reference model's (frankenmerges).

The layer count keys (`num_hidden_layers`, `n_layer`, ...) become the output's count, and per-layer lists
(`layer_types` in Qwen2 / Gemma 2-3 / Mistral-style configs, which transformers requires to have one entry per
layer) are rebuilt from the layer each output layer was taken from, in the config of the model it came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from modelfusion.plan.naming import NUM_LAYER_KEYS

PER_LAYER_SUFFIXES = ("layer_types",)
"""Top-level config keys ending in one of these hold one entry per layer."""


def _per_layer_keys(config: Mapping, num_layers: int) -> list[str]:
    return [
        k for k, v in config.items() if k.endswith(PER_LAYER_SUFFIXES) and isinstance(v, list) and len(v) == num_layers
    ]


def restacked_config(
    config: dict,
    ref_layers: int,
    origins: Sequence[tuple[str, int]],
    configs: Mapping[str, dict | None],
    layer_counts: Mapping[str, int],
) -> dict:
    """`config` with its layer count set to len(origins) and per-layer lists rebuilt.

    origins[i] = (model, layer) the i-th output layer was taken from; configs / layer_counts per model.
    """
    out = dict(config)
    for key in NUM_LAYER_KEYS:
        if key in out:
            out[key] = len(origins)
    for key in _per_layer_keys(config, ref_layers):
        values = []
        for model, layer in origins:
            source = configs.get(model) or {}
            column = source.get(key) if key in _per_layer_keys(source, layer_counts.get(model, -1)) else None
            values.append(column[layer] if column is not None else config[key][min(layer, ref_layers - 1)])
        out[key] = values
    return out
