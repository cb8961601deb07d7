"""Output architectures: Mixtral (Llama / Mistral experts, no shared expert) and Qwen2-MoE (Llama / Mistral /
Qwen2 experts plus exactly one shared expert), chosen as mergekit-moe chooses; their config and tensor names.

Tensors are named as transformers' `save_pretrained` writes these models (Mixtral: the Hub layout
`block_sparse_moe.experts.E.w1/w2/w3`, one tensor per expert, which transformers 4 and 5, vLLM and llama.cpp
read), so experts are written one at a time without ever holding a layer's experts together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from modelfusion.errors import RecipeError
from modelfusion.moe.config import MoEConfig

DENSE_MLP = ("gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class OutputArch:
    name: str
    model_types: tuple[str, ...]
    expert_names: Callable[[int, int], dict[str, str]]
    """(layer, expert) -> {dense projection name: output tensor name}."""
    router_name: Callable[[int], str]
    shared_names: Callable[[int], dict[str, str]] | None = None
    shared_router_name: Callable[[int], str] | None = None

    def unsupported(self, config: MoEConfig, model_types: list[str]) -> str | None:
        """Why this architecture cannot hold `config`'s models, or None (mergekit's `supports_config`)."""
        shared = config.shared_experts or []
        if self.shared_names is None and shared:
            return f"{self.name} has no shared expert"
        if self.shared_names is not None:
            if len(shared) != 1:
                return f"{self.name} needs exactly one shared expert (shared_experts)"
            if config.gate_mode != "random" and not shared[0].positive_prompts:
                return f"{self.name} needs positive_prompts for the shared expert"
        if len(set(model_types)) != 1:
            return f"{self.name} needs one architecture for all models (got {', '.join(sorted(set(model_types)))})"
        if model_types[0] not in self.model_types:
            return f"{self.name} takes {' / '.join(self.model_types)} models, not {model_types[0]}"
        return None

    def out_config(self, base_folder: Path, experts: int, per_token: int):
        """The output's transformers config, built from the base's as mergekit builds it."""
        import transformers

        base = transformers.AutoConfig.from_pretrained(str(base_folder), local_files_only=True)
        if self.shared_names is None:
            if not isinstance(base, transformers.MistralConfig):
                mistral = transformers.MistralConfig(**base.to_dict())
                mistral.sliding_window = None
                mistral.max_position_embeddings = base.max_position_embeddings
                base = mistral
            out = transformers.MixtralConfig(**base.to_dict())
            out.architectures = ["MixtralForCausalLM"]
            out.num_local_experts = experts
            out.num_experts_per_tok = per_token
            out.sliding_window = None
            return out
        out = transformers.Qwen2MoeConfig(**base.to_dict())
        out.architectures = ["Qwen2MoeForCausalLM"]
        out.num_experts = experts
        out.num_experts_per_tok = per_token
        out.decoder_sparse_step = 1
        out.norm_topk_prob = True
        out.sliding_window = None
        out.use_sliding_window = False
        out.shared_expert_intermediate_size = out.intermediate_size
        out.moe_intermediate_size = out.intermediate_size
        return out


def _mixtral_experts(layer: int, expert: int) -> dict[str, str]:
    prefix = f"model.layers.{layer}.block_sparse_moe.experts.{expert}"
    return {"gate_proj": f"{prefix}.w1.weight", "down_proj": f"{prefix}.w2.weight", "up_proj": f"{prefix}.w3.weight"}


def _qwen_experts(layer: int, expert: int) -> dict[str, str]:
    return {p: f"model.layers.{layer}.mlp.experts.{expert}.{p}.weight" for p in DENSE_MLP}


MIXTRAL = OutputArch(
    "Mixtral",
    ("llama", "mistral"),
    _mixtral_experts,
    lambda layer: f"model.layers.{layer}.block_sparse_moe.gate.weight",
)
QWEN_MOE = OutputArch(
    "Qwen MoE",
    ("llama", "mistral", "qwen2"),
    _qwen_experts,
    lambda layer: f"model.layers.{layer}.mlp.gate.weight",
    shared_names=lambda layer: {p: f"model.layers.{layer}.mlp.shared_expert.{p}.weight" for p in DENSE_MLP},
    shared_router_name=lambda layer: f"model.layers.{layer}.mlp.shared_expert_gate.weight",
)
ARCHITECTURES = (MIXTRAL, QWEN_MOE)
MERGEKIT_ONLY = ("DeepSeek MoE", "Qwen3 MoE")


def select_arch(config: MoEConfig, model_types: list[str], where: str) -> OutputArch:
    """mergekit-moe's choice: the architectures whose name starts with `architecture:` (any case), those that
    can hold the models; Mixtral when it can, else the other."""
    wanted = (config.architecture or "").lower()
    candidates = [a for a in ARCHITECTURES if a.name.lower().startswith(wanted)]
    if not candidates:
        other = [n for n in MERGEKIT_ONLY if n.lower().startswith(wanted)]
        hint = f" ({other[0]} output is not built by modelfusion)" if other else ""
        raise RecipeError(
            f"architecture: no output architecture {config.architecture!r}{hint}; "
            f"choose from {', '.join(a.name for a in ARCHITECTURES)}",
            where=where,
        )
    reasons = [(a, a.unsupported(config, model_types)) for a in candidates]
    usable = [a for a, why in reasons if why is None]
    if not usable:
        raise RecipeError("; ".join(why for _, why in reasons if why), where=where)
    return usable[0]
