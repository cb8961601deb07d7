"""Every tensor of the MoE output and where its data comes from, checked before any tensor is read.

- the base's non-MLP tensors (embeddings, attention, norms, lm_head), named as the output architecture names
  them (found by building the output model on the meta device: no table per architecture); an untied lm_head
  missing from a tied base is left out; attention biases a Qwen2-MoE needs but a Llama base lacks are zeros;
- per layer l and expert e, the expert's dense `model.layers.l.mlp.{gate,up,down}_proj.weight`;
- per layer, the router (experts x hidden) and, for Qwen2-MoE, the shared expert and its (1 x hidden) gate.
All problems (missing tensors, wrong shapes, tensors the output cannot hold) are reported together.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelfusion.checkpoint import Checkpoint
from modelfusion.errors import PlanError
from modelfusion.moe.architecture import DENSE_MLP, OutputArch
from modelfusion.moe.config import Expert

ROUTER, SHARED_ROUTER, ZEROS = "router", "shared_router", "zeros"


@dataclass(frozen=True)
class OutTensor:
    name: str
    shape: tuple[int, ...]
    model: int | None
    """Index of the source checkpoint (0: base, then the experts, then the shared expert); None if computed."""
    source: str | None = None
    """The source tensor name, or ROUTER / SHARED_ROUTER / ZEROS for computed tensors."""
    layer: int = 0
    expert: Expert | None = None
    residual: bool = False
    """A down_proj: `residual_scale` applies."""


@dataclass(frozen=True)
class MoEPlan:
    tensors: list[OutTensor]
    layers: int
    hidden: int


def expected_shapes(out_config) -> dict[str, tuple[int, ...]]:
    """Non-MLP tensor names and shapes of the output model, built on the meta device (no memory)."""
    import torch
    import transformers

    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(out_config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if ".mlp." not in k}


def plan_moe(
    arch: OutputArch,
    out_config,
    base: Checkpoint,
    experts: list[tuple[Checkpoint, Expert]],
    shared: tuple[Checkpoint, Expert] | None,
) -> MoEPlan:
    layers, hidden, inter = out_config.num_hidden_layers, out_config.hidden_size, out_config.intermediate_size
    tied = bool(getattr(out_config, "tie_word_embeddings", False))
    problems: list[str] = []
    out: list[OutTensor] = []
    expected = expected_shapes(out_config)
    for name, shape in expected.items():
        info = base.infos.get(name)
        if info is None:
            if tied and name == "lm_head.weight":
                continue
            if arch.shared_names is not None and name.endswith("_proj.bias"):
                out.append(OutTensor(name, shape, None, ZEROS))
                continue
            problems.append(f"{base.label}: has no tensor '{name}'")
        elif tuple(info.shape) != shape:
            problems.append(f"{base.label}: '{name}' has shape {list(info.shape)}, the {arch.name} needs {list(shape)}")
        else:
            out.append(OutTensor(name, shape, 0, name))
    extra = [n for n in base.infos if n not in expected and ".mlp." not in n and not n.endswith("rotary_emb.inv_freq")]
    if extra:
        problems.append(f"{base.label}: {len(extra)} tensors the {arch.name} cannot hold (first: '{extra[0]}')")
    sources = [*experts, *([shared] if shared else [])]
    for ckpt, _ in sources:
        problems += _check_expert(ckpt, layers)
    dense_shape = {"gate_proj": (inter, hidden), "up_proj": (inter, hidden), "down_proj": (hidden, inter)}
    for layer in range(layers):
        targets = [arch.expert_names(layer, e) for e in range(len(experts))]
        if shared is not None and arch.shared_names is not None:
            targets.append(arch.shared_names(layer))
        for i, ((ckpt, spec), names) in enumerate(zip(sources, targets), start=1):
            for proj in DENSE_MLP:
                src = f"model.layers.{layer}.mlp.{proj}.weight"
                info = ckpt.infos.get(src)
                if info is None:
                    problems.append(f"{ckpt.label}: has no tensor '{src}'")
                elif tuple(info.shape) != dense_shape[proj]:
                    problems.append(
                        f"{ckpt.label}: '{src}' has shape {list(info.shape)}, "
                        f"the base's MLP is {list(dense_shape[proj])}"
                    )
                else:
                    out.append(OutTensor(names[proj], dense_shape[proj], i, src, layer, spec, proj == "down_proj"))
    for layer in range(layers):
        out.append(OutTensor(arch.router_name(layer), (len(experts), hidden), None, ROUTER, layer))
        if arch.shared_router_name is not None:
            out.append(OutTensor(arch.shared_router_name(layer), (1, hidden), None, SHARED_ROUTER, layer))
    if problems:
        raise PlanError(problems)
    return MoEPlan(out, layers, hidden)


def _check_expert(ckpt: Checkpoint, layers: int) -> list[str]:
    biases = [n for n in ckpt.infos if ".mlp." in n and n.endswith(".bias")]
    problems = [f"{ckpt.label}: MLP biases ('{biases[0]}') have no place in an MoE expert"] if biases else []
    n = (ckpt.config or {}).get("num_hidden_layers")
    if isinstance(n, int) and n != layers:
        problems.append(f"{ckpt.label}: {n} layers, the base has {layers}")
    return problems
