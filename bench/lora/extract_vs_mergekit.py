"""Time and peak RSS of `modelfusion extract-lora` against `mergekit-extract-lora` on one input, side by side.

    python -m bench.lora.extract_vs_mergekit --size tiny --rank 8 --runs 3     # a smoke run (seconds)
    python -m bench.lora.extract_vs_mergekit --size medium --rank 32 --runs 5  # the real comparison

A random Llama of the chosen size is saved as the base, and a fine-tune made from it (every linear weight moved by
a rank-16 update plus small full-rank noise, embeddings and norms moved too), both float32 safetensors. The two
tools then run alternately (A B A B, each under /usr/bin/time -v, outputs removed between runs) at the same maximum
rank, embeddings and norms skipped by both; medians are quoted. Each adapter's reconstruction of the task vector
(relative Frobenius error over the LoRA modules both wrote, together) is measured afterwards: a fast wrong tool
shows.
Writes bench/lora/results/extract-<size>-r<rank>.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

from bench.speed.measure import median, timed

ROOT = Path(__file__).resolve().parents[2]
SIZES = {  # hidden, intermediate, layers, heads, kv heads, vocab
    "tiny": (64, 128, 2, 4, 2, 256),
    "medium": (1024, 2816, 12, 16, 4, 32000),
}


def make_pair(size: str, folder: Path) -> tuple[Path, Path]:
    """Save base/ and finetune/ under `folder` (reused when present)."""
    import transformers as tf

    base, ft = folder / "base", folder / "finetune"
    if (ft / "config.json").is_file():
        return base, ft
    hidden, inter, layers, heads, kv, vocab = SIZES[size]
    config = tf.LlamaConfig(
        hidden_size=hidden,
        intermediate_size=inter,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        vocab_size=vocab,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = tf.LlamaForCausalLM(config)
    model.save_pretrained(base)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2 and "embed" not in name:
                out, inp = p.shape
                p += torch.randn(out, 16, generator=g) @ torch.randn(16, inp, generator=g) * (0.02 / 16**0.5)
                p += torch.randn(out, inp, generator=g) * 1e-3
            else:
                p += torch.randn(p.shape, generator=g) * 1e-3
    model.save_pretrained(ft)
    return base, ft


def adapter_modules(adapter: Path) -> set[str]:
    from modelfusion.checkpoint.lora_adapter import LoraAdapter

    lora = LoraAdapter(adapter)
    lora.close()
    return set(lora.deltas)


def adapter_error(adapter: Path, base: Path, ft: Path, modules: set[str]) -> float:
    """||Delta - B A s|| / ||Delta|| over the LoRA `modules` of `adapter` together (PEFT's scaling)."""
    from modelfusion.checkpoint import open_checkpoint
    from modelfusion.checkpoint.lora_adapter import LoraAdapter

    lora = LoraAdapter(adapter)
    num = den = 0.0
    with open_checkpoint(base) as b, open_checkpoint(ft) as f:
        for module, d in lora.deltas.items():
            if module not in modules:
                continue
            name = f"{module}.weight"
            delta = f.read(name).float() - b.read(name).float()
            approx = (lora.file.read(d.b).float() @ lora.file.read(d.a).float()) * d.scale
            approx = approx.T if d.transpose else approx
            num += float((delta - approx).square().sum())
            den += float(delta.square().sum())
    lora.close()
    return (num / den) ** 0.5 if den else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "lora-extract")
    args = parser.parse_args()
    base, ft = make_pair(args.size, args.work / args.size)
    bindir = Path(sys.executable).parent
    mergekit = ROOT / ".peers" / "mergekit" / "bin" / "mergekit-extract-lora"
    outs = {"modelfusion": args.work / "out-modelfusion", "mergekit": args.work / "out-mergekit"}
    commands = {
        "modelfusion": [
            str(bindir / "modelfusion"),
            "extract-lora",
            str(ft),
            "--base",
            str(base),
            str(outs["modelfusion"]),
            "--rank",
            str(args.rank),
            "--quiet",
        ],
        "mergekit": [
            str(mergekit),
            "--model",
            str(ft),
            "--base-model",
            str(base),
            "--out-path",
            str(outs["mergekit"]),
            "--max-rank",
            str(args.rank),
            "--no-copy-tokenizer",
            "--no-write-model-card",
            "--exclude-regex",
            "embed|norm",
        ],
    }
    if not mergekit.exists():
        raise SystemExit(f"{mergekit} is missing")
    runs: dict[str, list] = {k: [] for k in commands}
    for _ in range(args.runs):  # A B A B
        for tool, cmd in commands.items():
            runs[tool].append(timed(cmd, clear=outs[tool], env={"OMP_NUM_THREADS": "1"}))
    common = set.intersection(*(adapter_modules(o) for o in outs.values()))
    result = {
        "command": " ".join(["python -m bench.lora.extract_vs_mergekit", *sys.argv[1:]]),
        "size": args.size,
        "shape": dict(zip(("hidden", "intermediate", "layers", "heads", "kv_heads", "vocab"), SIZES[args.size])),
        "rank": args.rank,
        "machine": platform.platform(),
        "tools": {
            tool: {
                "median_wall_s": median([r.wall_s for r in rs]),
                "median_cpu_s": median([r.cpu_s for r in rs]),
                "median_rss_mb": median([r.rss_mb for r in rs]),
                "lora_modules": len(adapter_modules(outs[tool])),
                "relative_error_common_modules": adapter_error(outs[tool], base, ft, common),
                "runs": [r.as_dict() for r in rs],
            }
            for tool, rs in runs.items()
        },
    }
    path = ROOT / "bench" / "lora" / "results" / f"extract-{args.size}-r{args.rank}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    for tool, t in result["tools"].items():
        print(
            f"{tool:12s} wall {t['median_wall_s']:.2f} s  cpu {t['median_cpu_s']:.2f} s  "
            f"rss {t['median_rss_mb']:.0f} MiB  error {t['relative_error_common_modules']:.3g}  "
            f"modules {t['lora_modules']}"
        )
    print(path)


if __name__ == "__main__":
    main()
