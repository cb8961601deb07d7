"""`modules:` (mergekit's per-module definitions): which module of the recipe each tensor belongs to.

No per-architecture table. A module name claims the tensors whose dotted name contains it as whole components
(`vision_tower` claims `vision_tower.encoder.layers.0.mlp.fc1.weight` and `model.vision_tower.patch_embed.weight`;
`model.encoder` claims `model.encoder.*`), plus, for mergekit's module names of multimodal and
encoder-decoder models, the usual spellings of that part (ALIASES). A tensor claimed by several modules goes to
the outermost match, then to the longest name (`visual.merger` is the projector, not the vision tower).
`default`, `shared` and `text_decoder` also take every tensor no other module claims (mergekit's inferred
`default` module; T5's `shared`; Qwen2-VL's text decoder is `model.*` and `lm_head`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from modelfusion.plan.layer_config import restacked_config

ALIASES: dict[str, tuple[str, ...]] = {
    "text_decoder": ("language_model", "text_model"),
    "vision_tower": ("vision_tower", "vision_model", "visual", "vision_encoder"),
    "multi_modal_projector": ("multi_modal_projector", "mm_projector", "visual.merger", "connector"),
}
"""mergekit's module names (its VLM architecture files) -> the component names transformers checkpoints use."""
CATCH_ALL = ("default", "shared", "text_decoder")
"""Module names that also take the tensors no other module of the recipe claims (first listed wins)."""
SUB_CONFIGS = {"vision": "vision_config", "visual": "vision_config", "language": "text_config", "text": "text_config"}
"""A hint in a module's tensor names -> the config.json sub-config holding its layer count."""


def _match(name: str, pattern: str) -> int | None:
    """Index of the first component of `name` where `pattern`'s components start, or None."""
    parts, want = name.split("."), pattern.split(".")
    for i in range(len(parts) - len(want) + 1):
        if parts[i : i + len(want)] == want:
            return i
    return None


class ModuleMap:
    """Tensor name -> the recipe module it belongs to (None: no module claims it)."""

    def __init__(self, modules: Sequence[str]) -> None:
        self.modules = list(modules)
        self.patterns = [(m, p) for m in self.modules for p in (m, *ALIASES.get(m, ()))]
        catch = [m for m in self.modules if m in CATCH_ALL]
        self.rest = "default" if "default" in catch else (catch[0] if catch else None)
        self._cache: dict[str, str | None] = {}

    def __call__(self, name: str) -> str | None:
        if name not in self._cache:
            hits = [(i, -len(p), m) for m, p in self.patterns if (i := _match(name, p)) is not None]
            self._cache[name] = min(hits)[2] if hits else self.rest
        return self._cache[name]

    def problems(self, names: Iterable[str], model: str) -> list[str]:
        """A module claiming no tensor of `model`, or tensors of `model` in no module."""
        names = list(names)
        owners = {n: self(n) for n in names}
        out = []
        stray = [n for n, m in owners.items() if m is None]
        if stray:
            out.append(
                f"modules: {len(stray)} tensor(s) of {model} belong to no module (e.g. '{stray[0]}'); "
                "add a module for them, or 'default' for everything left over"
            )
        for m in self.modules:
            if m not in owners.values():
                out.append(f"modules.{m}: no tensor of {model} belongs to it (stacks: {', '.join(stacks(names))})")
        return out


def stacks(names: Iterable[str]) -> list[str]:
    """The layer-stack prefixes among `names` (`language_model.model.layers`, ...): module names to suggest."""
    from modelfusion.plan.naming import LAYER_PATTERN

    found = []
    for n in names:
        m = LAYER_PATTERN.search(n)
        if m:
            found.append(n[: m.start(3) - 1].lstrip("."))
    return list(dict.fromkeys(found)) or ["none"]


T5_TYPES = ("t5", "mt5", "umt5", "longt5", "switch_transformers")
"""model_types whose config.json counts the encoder's layers in `num_layers`, the decoder's in `num_decoder_layers`."""


class ModuleConfigError(ValueError):
    """A module's slices change its layer count and config.json has no key known to hold it."""


def _side(stack: str) -> str | None:
    """'encoder' or 'decoder' when that is a component of the layer stack's prefix (`model.encoder.layers`)."""
    sides = [s for s in ("encoder", "decoder") if s in stack.split(".")]
    return sides[0] if len(sides) == 1 else None


def module_config(
    config: dict,
    names: Sequence[str],
    ref_layers: int,
    origins: Sequence[tuple[str, int]],
    configs: Mapping[str, dict | None],
    counts: Mapping[str, int],
    module: str = "",
) -> dict:
    """`config` with the layer count of the module made of `names` restacked (a module whose slices change its
    layer count): an encoder's or decoder's in its own key (T5 `num_layers` / `num_decoder_layers`; Whisper,
    BART `encoder_layers` / `decoder_layers`; an `encoder` / `decoder` sub-config), else in the sub-config its
    names point to (`vision_config`, `text_config`), else at top level. ModuleConfigError where no key is
    known for certain (several stacks in one module; an encoder-decoder config of another layout)."""
    found = stacks(names)
    if len(found) > 1:
        raise ModuleConfigError(
            f"modules.{module}: its slices change the layer count of several layer stacks ({', '.join(found)}); "
            "give each stack its own module"
        )
    side = _side(found[0])
    if side is not None:
        return _encoder_decoder_config(config, side, ref_layers, origins, configs, counts, module)
    if config.get("is_encoder_decoder"):
        raise ModuleConfigError(
            f"modules.{module}: its slices change the layer count of '{found[0]}' in an encoder-decoder model "
            f"(model_type {config.get('model_type')!r}), and which config.json key holds it is unknown; keep its "
            "layer count (slices covering every layer once)"
        )
    joined = ".".join(names)
    key = next((k for hint, k in SUB_CONFIGS.items() if hint in joined and isinstance(config.get(k), dict)), None)
    if key is None:
        return restacked_config(config, ref_layers, origins, configs, counts)
    subs = {m: (c or {}).get(key) for m, c in configs.items()}
    return {**config, key: restacked_config(config[key], ref_layers, origins, subs, counts)}


def _encoder_decoder_config(
    config: dict,
    side: str,
    ref_layers: int,
    origins: Sequence[tuple[str, int]],
    configs: Mapping[str, dict | None],
    counts: Mapping[str, int],
    module: str,
) -> dict:
    if isinstance(config.get(side), dict):  # EncoderDecoderModel, VisionEncoderDecoderModel: one sub-config each
        subs = {m: (c or {}).get(side) for m, c in configs.items()}
        return {**config, side: restacked_config(config[side], ref_layers, origins, subs, counts)}
    out = dict(config)
    if isinstance(config.get("encoder_layers"), int) and isinstance(config.get("decoder_layers"), int):
        out[f"{side}_layers"] = len(origins)  # Whisper, BART, mBART, Marian, Pegasus, M2M100, ...
        if side == "encoder" and config.get("num_hidden_layers") == config["encoder_layers"]:
            out["num_hidden_layers"] = len(origins)  # older configs repeat the encoder's count there
        return out
    if isinstance(config.get("num_layers"), int) and (
        config.get("model_type") in T5_TYPES or "num_decoder_layers" in config
    ):
        if side == "encoder":
            if config.get("num_decoder_layers") is None:  # T5Config: None means as many as the encoder
                out["num_decoder_layers"] = config["num_layers"]
            out["num_layers"] = len(origins)
        else:
            out["num_decoder_layers"] = len(origins)
        return out
    raise ModuleConfigError(
        f"modules.{module}: its slices change the {side}'s layer count, and config.json (model_type "
        f"{config.get('model_type')!r}) has no key known to hold it; keep its layer count (slices covering every "
        "layer once)"
    )
