"""The MoE config: mergekit-moe's YAML schema, read strictly, and the checks mergekit makes before building.

```yaml
base_model: ./base                 # attention, norms, embeddings, lm_head come from here
gate_mode: hidden                  # hidden | hidden_last | hidden_avg | cheap_embed | random | uniform_random
dtype: bfloat16                    # optional; else the base's config dtype
experts_per_token: 2
architecture: mixtral              # optional: mixtral | qwen (name prefix, as mergekit)
experts:
  - source_model: ./expert-a       # a path, a Hub id, or BASE+LORA
    positive_prompts: ["..."]
    negative_prompts: ["..."]      # optional
    noise_scale: 0.01              # optional: Gaussian noise added to the expert's weights
    residual_scale: 0.5            # optional: down_proj multiplied by this
shared_experts:                    # Qwen2-MoE output: exactly one
  - source_model: ./shared
    positive_prompts: ["..."]
```
Unknown keys are errors (a typo would otherwise be silently ignored, as mergekit's pydantic models do).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import torch
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from modelfusion.errors import RecipeError

GATE_MODES = ("hidden", "hidden_last", "hidden_avg", "cheap_embed", "random", "uniform_random")
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32, "float64": torch.float64}


def model_ref(value: Any) -> Any:
    """A model reference: a string (`path`, `org/name`, `BASE+LORA`) or mergekit's `{model: ..., lora: ...}`."""
    if isinstance(value, dict) and set(value) <= {"model", "lora"} and isinstance(value.get("model"), str):
        lora = value.get("lora")
        return value["model"] + (f"+{lora}" if isinstance(lora, str) else "")
    return value


class Expert(BaseModel):
    """One dense model whose MLPs become an expert (mergekit's `Expert`)."""

    model_config = ConfigDict(extra="forbid")
    source_model: str
    positive_prompts: list[str] | None = None
    negative_prompts: list[str] | None = None
    noise_scale: float | None = None
    residual_scale: float | None = None

    @field_validator("source_model", mode="before")
    @classmethod
    def _ref(cls, v: Any) -> Any:
        return model_ref(v)

    def prompt_key(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return tuple(self.positive_prompts or ()), tuple(self.negative_prompts or ())


class MoEConfig(BaseModel):
    """mergekit's `MoEMergeConfig`."""

    model_config = ConfigDict(extra="forbid")
    base_model: str
    experts: list[Expert]
    gate_mode: str = "hidden"
    dtype: str | None = None
    experts_per_token: int = 2
    shared_experts: list[Expert] | None = None
    architecture: str | None = None

    @field_validator("base_model", mode="before")
    @classmethod
    def _ref(cls, v: Any) -> Any:
        return model_ref(v)

    @field_validator("gate_mode")
    @classmethod
    def _gate_mode(cls, v: str) -> str:
        if v not in GATE_MODES:
            raise ValueError(f"unknown gate_mode {v!r}{_close(v, GATE_MODES)} (one of {', '.join(GATE_MODES)})")
        return v

    @field_validator("dtype")
    @classmethod
    def _dtype(cls, v: str | None) -> str | None:
        name = v.removeprefix("torch.") if v else v
        if name and name not in DTYPES:
            raise ValueError(f"unknown dtype {v!r}{_close(name, DTYPES)} (one of {', '.join(DTYPES)})")
        return name

    @property
    def out_dtype(self) -> torch.dtype | None:
        return DTYPES[self.dtype] if self.dtype else None


def _close(word: str, choices) -> str:
    near = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def parse_config(data: Any, where: str) -> MoEConfig:
    """Validate a loaded YAML document; the first problem becomes one RecipeError naming `where` and the key."""
    if not isinstance(data, dict):
        raise RecipeError("an MoE config is a YAML mapping (base_model, experts, gate_mode, ...)", where=where)
    try:
        return MoEConfig.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            in_expert = loc.split(".")[0] in ("experts", "shared_experts")
            fields = Expert.model_fields if in_expert else MoEConfig.model_fields
            msg = f"unknown key{_close(str(err['loc'][-1]), fields)}"
        raise RecipeError(f"{loc}: {msg}", where=where) from None


def load_config(path: Path) -> tuple[MoEConfig, str]:
    """The config at `path` and its text (copied into the output)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RecipeError(f"cannot read the MoE config: {e}", where=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise RecipeError(f"not valid YAML: {str(e).splitlines()[0]}", where=str(path)) from None
    return parse_config(data, str(path)), text


def check_config(config: MoEConfig, where: str, allow_all_same: bool = False) -> None:
    """mergekit-moe's refusals (`is_bad_config`), as one-line errors: experts_per_token >= 1 and <= the number
    of experts; outside `random` mode every expert has positive prompts, not all experts have the same prompt
    sets (identical routers cannot route), and not all experts are the same model (unless `allow_all_same`)."""
    experts = config.experts
    if config.experts_per_token < 1:
        raise RecipeError("experts_per_token must be >= 1", where=where)
    if len(experts) < config.experts_per_token:
        raise RecipeError(
            f"{len(experts)} experts for experts_per_token {config.experts_per_token}: need at least as many experts",
            where=where,
        )
    shared = config.shared_experts or []
    if len({bool(e.positive_prompts) for e in shared}) > 1:
        raise RecipeError("shared_experts: give prompts for all shared experts or for none", where=where)
    if config.gate_mode == "random":
        return
    for i, e in enumerate(experts):
        if not e.positive_prompts:
            raise RecipeError(f"experts.{i} ({e.source_model}) has no positive_prompts", where=where)
    if all(e.prompt_key() == experts[0].prompt_key() for e in experts[1:]):
        raise RecipeError(
            "every expert has the same positive and negative prompts, so every router row would be the same: "
            "give each expert prompts for what should be routed to it",
            where=where,
        )
    if not allow_all_same and all(e.source_model == experts[0].source_model for e in experts[1:]):
        raise RecipeError(
            "every expert is the same model: the MoE would cost more and compute the same thing "
            "(pass --allow-all-same if you will train it further)",
            where=where,
        )
