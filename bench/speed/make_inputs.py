"""Generate the benchmark's inputs: Llama-shaped bf16 checkpoints (a base and fine-tunes = base + noise).

Written with `safetensors.torch.save_file` in Hugging Face layout (model.safetensors + config.json) under
bench/.cache/speed/<set>/ (git-ignored) and reused when already there.

Sets:
- "250m": hidden 1024, 14 layers, vocab 32000: 245M parameters, 129 tensors, 0.49 GB per checkpoint;
- "1b": hidden 2048, 16 layers, vocab 32000: 0.95B parameters, 147 tensors, 1.9 GB per checkpoint;
- "tiny": hidden 256, 2 layers, vocab 4096: 3.7M parameters, 21 tensors, 7.4 MB per checkpoint (smoke runs of
  the harness: `run.py --set tiny`; its timings are start-up only, not results);
- "n<T>": tiny hidden (32) with enough layers for about T tensors (per-tensor overhead curve).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

CACHE = Path(__file__).resolve().parents[1] / ".cache" / "speed"
NOISE = 0.002
"""Fine-tune = base + NOISE * N(0, 1); base weights ~ 0.02 * N(0, 1)."""


@dataclass(frozen=True)
class Shape:
    hidden: int
    intermediate: int
    layers: int
    vocab: int
    heads: int

    @property
    def tensor_count(self) -> int:
        return 9 * self.layers + 3


SETS = {
    "250m": Shape(hidden=1024, intermediate=2816, layers=14, vocab=32000, heads=16),
    "1b": Shape(hidden=2048, intermediate=5632, layers=16, vocab=32000, heads=16),
    "tiny": Shape(hidden=256, intermediate=704, layers=2, vocab=4096, heads=4),
}


def tensor_set(n_tensors: int) -> Shape:
    """A tiny-hidden Llama with about `n_tensors` tensors (9 per layer + 3)."""
    return Shape(hidden=32, intermediate=64, layers=max(1, round((n_tensors - 3) / 9)), vocab=256, heads=4)


def shape_of(name: str) -> Shape:
    return SETS[name] if name in SETS else tensor_set(int(name.removeprefix("n")))


def tensor_shapes(s: Shape) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (s.vocab, s.hidden)}
    for i in range(s.layers):
        p = f"model.layers.{i}."
        for proj in ("q", "k", "v", "o"):
            shapes[f"{p}self_attn.{proj}_proj.weight"] = (s.hidden, s.hidden)
        shapes[f"{p}mlp.gate_proj.weight"] = (s.intermediate, s.hidden)
        shapes[f"{p}mlp.up_proj.weight"] = (s.intermediate, s.hidden)
        shapes[f"{p}mlp.down_proj.weight"] = (s.hidden, s.intermediate)
        shapes[f"{p}input_layernorm.weight"] = (s.hidden,)
        shapes[f"{p}post_attention_layernorm.weight"] = (s.hidden,)
    shapes["model.norm.weight"] = (s.hidden,)
    shapes["lm_head.weight"] = (s.vocab, s.hidden)
    return shapes


def config(s: Shape) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": s.hidden,
        "intermediate_size": s.intermediate,
        "num_hidden_layers": s.layers,
        "num_attention_heads": s.heads,
        "num_key_value_heads": s.heads,
        "vocab_size": s.vocab,
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "hidden_act": "silu",
    }


def make_set(name: str, n_models: int = 3) -> list[Path]:
    """Folders base, ft1, ft2 ... of set `name`, generated once (deterministic seeds)."""
    s = shape_of(name)
    root = CACHE / name
    folders = [root / ("base" if i == 0 else f"ft{i}") for i in range(n_models)]
    if all((f / "model.safetensors").is_file() for f in folders):
        return folders
    shapes = tensor_shapes(s)
    gen = torch.Generator().manual_seed(1234)
    base = {}
    for n, shape in shapes.items():
        if n.endswith("norm.weight"):
            base[n] = torch.ones(shape, dtype=torch.bfloat16)
        else:
            base[n] = (torch.randn(shape, generator=gen) * 0.02).to(torch.bfloat16)
    for i, folder in enumerate(folders):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(config(s), indent=2))
        if i == 0:
            state = base
        else:
            state = {
                n: (t.float() + torch.randn(t.shape, generator=gen) * NOISE).to(torch.bfloat16) for n, t in base.items()
            }
        tmp = folder / "model.safetensors.tmp"
        save_file(state, str(tmp), metadata={"format": "pt"})
        tmp.rename(folder / "model.safetensors")
        del state
    return folders


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["250m"]:
        print(*make_set(arg))
