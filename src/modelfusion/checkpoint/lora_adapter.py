"""A PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors or .bin), read and checked.

For a targeted linear module with weight W [out, in], PEFT stores A = `lora_A.weight` [r, in] and
B = `lora_B.weight` [out, r]; the adapted weight (PEFT's `merge_and_unload`) is

    W' = W + (B A) s            ((B A)^T s for GPT-2's Conv1D, `fan_in_fan_out`, whose W is [in, out])

with s = lora_alpha / r, or lora_alpha / sqrt(r) with `use_rslora` (Kalajdzievski 2023), r and lora_alpha taken per
module from `rank_pattern` / `alpha_pattern` when a pattern matches the module's name (PEFT's `get_pattern_key`:
the regular expression matches the whole name or a dot-separated suffix of it). An embedding stores
A = `lora_embedding_A` [r, num_embeddings] and B = `lora_embedding_B` [dim, r]: W' = W + (B A)^T s. With
`lora_bias`, bias' = bias + s `lora_B.bias`. Tensors saved whole (`modules_to_save`, and the `base_layer.weight`
PEFT saves of a targeted embedding) replace the base's tensor before the delta is added.

Anything else (DoRA, other PEFT methods, trainable tokens, convolutions, layer replication) changes the model
beyond W + s B A and is refused with a message naming the adapter.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from modelfusion.checkpoint.pickle_file import PickleFile
from modelfusion.checkpoint.safetensors_file import SafetensorsFile
from modelfusion.errors import CheckpointError

CONFIG = "adapter_config.json"
WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
FULL_WEIGHTS = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
PEFT_PREFIX = "base_model.model."
MERGE_WITH_PEFT = "merge it into its base with PEFT's merge_and_unload() and give the result as a model"
REFUSED_SETTINGS = {
    "alora_invocation_tokens": "activated LoRA (alora_invocation_tokens) only acts after its invocation tokens",
    "layer_replication": "layer_replication duplicates layers of the base",
    "target_parameters": "target_parameters adapts parameters rather than modules",
    "trainable_token_indices": "trainable_token_indices trains single token embeddings",
    "use_qalora": "QA-LoRA (use_qalora) pools its inputs",
    "use_bdlora": "block-diagonal LoRA (use_bdlora) is not a plain B A product",
}


def is_adapter_folder(path: Path) -> bool:
    """A folder with adapter_config.json and adapter weights (not a full model)."""
    return path.is_dir() and (path / CONFIG).is_file() and any((path / w).is_file() for w in WEIGHTS)


def adapter_base_name(folder: Path) -> str | None:
    """`base_model_name_or_path` of an adapter's config, if it is readable and set."""
    try:
        value = json.loads((folder / CONFIG).read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return value if isinstance(value, str) and value else None


def refuse_adapter(path: Path) -> None:
    """Refuse a PEFT adapter folder (or its weight file) given where a full model is expected: its A and B
    matrices merged as weights would be wrong (mean(B) mean(A) is not mean(B A)) and load in no model. A folder
    that also holds full weights is a model."""
    folder = path if path.is_dir() else path.parent
    if path.is_file() and path.name not in WEIGHTS:
        return
    if not is_adapter_folder(folder) or (path.is_dir() and any((folder / w).is_file() for w in FULL_WEIGHTS)):
        return
    base = adapter_base_name(folder)
    raise CheckpointError(
        f"is a PEFT LoRA adapter, not a full model: apply it to its base model with `model: BASE+{folder}`"
        + (f" (its base: {base})" if base else ""),
        where=str(path),
    )


@dataclass(frozen=True)
class LoraDelta:
    """One module's update, (B A) s, or (B A)^T s when `transpose`; `bias`: the key of lora_B.bias, if any."""

    a: str
    b: str
    scale: float
    transpose: bool
    bias: str | None = None


class LoraAdapter:
    """An opened adapter: `deltas` by PEFT module name, `replaced` tensors by PEFT tensor name (both without
    PEFT's `base_model.model.` prefix); tensors read with `read(key)`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.where = str(self.folder)
        self.config = self._read_config()
        weights = next((self.folder / w for w in WEIGHTS if (self.folder / w).is_file()), None)
        if weights is None:
            raise self._fail(f"no adapter weights ({' or '.join(WEIGHTS)})")
        self.file = SafetensorsFile(weights) if weights.suffix == ".safetensors" else PickleFile(weights)
        try:
            self.deltas, self.replaced = self._parse_keys()
        except BaseException:
            self.file.close()
            raise

    def _fail(self, problem: str) -> CheckpointError:
        return CheckpointError(problem, where=self.where)

    def _read_config(self) -> dict:
        if not self.folder.is_dir():
            raise self._fail("no such adapter folder")
        if not (self.folder / CONFIG).is_file():
            raise self._fail(f"not a PEFT adapter folder (no {CONFIG})")
        try:
            config = json.loads((self.folder / CONFIG).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as e:
            raise self._fail(f"{CONFIG} cannot be read as JSON ({e})") from None
        if not isinstance(config, dict):
            raise self._fail(f"{CONFIG} is not a JSON object")
        kind = config.get("peft_type", "LORA")
        if kind != "LORA":
            raise self._fail(f"a {kind} adapter; only LoRA adapters can be applied to a base ({MERGE_WITH_PEFT})")
        if config.get("use_dora"):
            raise self._fail(
                "a DoRA adapter (use_dora: true): DoRA rescales each weight column by a learned magnitude, which "
                f"W + s B A does not express; modelfusion cannot apply it on the fly ({MERGE_WITH_PEFT})"
            )
        for key, why in REFUSED_SETTINGS.items():
            if config.get(key):
                raise self._fail(f"{key} is set: {why}, beyond W + s B A; cannot apply it ({MERGE_WITH_PEFT})")
        for key in ("r", "lora_alpha"):
            value = config.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise self._fail(f"{CONFIG}: '{key}' must be a positive number, got {value!r}")
        return config

    def _scale(self, module: str, rank: int) -> float:
        """PEFT's scaling for `module`: alpha / r (alpha / sqrt(r) with use_rslora), r and alpha by pattern."""
        cfg = self.config
        try:
            r = _pattern_value(cfg.get("rank_pattern") or {}, module, cfg["r"])
            alpha = _pattern_value(cfg.get("alpha_pattern") or {}, module, cfg["lora_alpha"])
        except re.error as e:
            raise self._fail(f"{CONFIG}: a rank_pattern / alpha_pattern key is not a regular expression: {e}") from None
        if r != rank:
            raise self._fail(f"module '{module}' has rank {rank} in the weights but r = {r} in {CONFIG}")
        return alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r

    def _parse_keys(self) -> tuple[dict[str, LoraDelta], dict[str, str]]:
        infos = self.file.infos
        parts: dict[str, dict[str, str]] = {}
        replaced: dict[str, str] = {}
        for key in infos:
            name = key.removeprefix(PEFT_PREFIX)
            for suffix, role in _ROLES:
                if name.endswith(suffix):
                    parts.setdefault(name[: -len(suffix)], {})[role] = key
                    break
            else:
                if name.endswith((".base_layer.weight", ".base_layer.bias")):
                    module, _, param = name.rpartition(".base_layer.")
                    replaced[f"{module}.{param}"] = key
                elif "lora_" in name or not self._saved_whole(name):
                    raise self._fail(
                        f"adapter tensor '{key}' is neither a LoRA matrix nor a module saved whole "
                        f"(modules_to_save); cannot apply it ({MERGE_WITH_PEFT})"
                    )
                else:
                    replaced[name] = key
        deltas = {module: self._delta(module, roles) for module, roles in sorted(parts.items())}
        if not deltas and not replaced:
            raise self._fail("the adapter holds no tensors")
        return deltas, replaced

    def _saved_whole(self, name: str) -> bool:
        """`name` (module.param) belongs to a module of `modules_to_save` (matched as a dotted suffix, as PEFT)."""
        module = name.rpartition(".")[0]
        saved = self.config.get("modules_to_save") or []
        return any(module == m or module.endswith("." + m) for m in saved if isinstance(m, str))

    def _delta(self, module: str, roles: dict[str, str]) -> LoraDelta:
        infos = self.file.infos
        embedding = "emb_a" in roles or "emb_b" in roles
        a, b = (roles.get("emb_a"), roles.get("emb_b")) if embedding else (roles.get("a"), roles.get("b"))
        if a is None or b is None:
            raise self._fail(f"module '{module}' has only one of its two LoRA matrices")
        sa, sb = infos[a].shape, infos[b].shape
        if len(sa) != 2 or len(sb) != 2:
            raise self._fail(
                f"module '{module}' has LoRA matrices of shapes {list(sa)} and {list(sb)}: only linear and "
                f"embedding layers can be applied (convolutions cannot; {MERGE_WITH_PEFT})"
            )
        if sa[0] != sb[1]:
            raise self._fail(f"module '{module}': lora_A {list(sa)} and lora_B {list(sb)} disagree on the rank")
        transpose = embedding or bool(self.config.get("fan_in_fan_out"))
        return LoraDelta(a, b, self._scale(module, sa[0]), transpose, roles.get("bias"))

    def delta_shape(self, delta: LoraDelta) -> tuple[int, int]:
        """The shape of (B A), transposed when the delta is."""
        rows, cols = self.file.infos[delta.b].shape[0], self.file.infos[delta.a].shape[1]
        return (cols, rows) if delta.transpose else (rows, cols)

    def close(self) -> None:
        self.file.close()


_ROLES = (
    (".lora_A.weight", "a"),
    (".lora_B.weight", "b"),
    (".lora_B.bias", "bias"),
    (".lora_embedding_A", "emb_a"),
    (".lora_embedding_B", "emb_b"),
)


def _pattern_value(patterns: dict, module: str, default: float) -> float:
    """PEFT's get_pattern_key: the first pattern matching `module` whole or as a dotted suffix, else `default`."""
    for pattern, value in patterns.items():
        if re.match(rf"(.*\.)?({pattern})$", module):
            return value
    return default
