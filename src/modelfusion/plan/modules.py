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


def module_config(
    config: dict,
    names: Sequence[str],
    ref_layers: int,
    origins: Sequence[tuple[str, int]],
    configs: Mapping[str, dict | None],
    counts: Mapping[str, int],
) -> dict:
    """`config` with the layer count of the module made of `names` restacked (a module whose slices change its
    layer count): in the sub-config its names point to (`vision_config`, `text_config`), else at top level."""
    joined = ".".join(names)
    key = next((k for hint, k in SUB_CONFIGS.items() if hint in joined and isinstance(config.get(k), dict)), None)
    if key is None:
        return restacked_config(config, ref_layers, origins, configs, counts)
    subs = {m: (c or {}).get(key) for m, c in configs.items()}
    return {**config, key: restacked_config(config[key], ref_layers, origins, subs, counts)}
