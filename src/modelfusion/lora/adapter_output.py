"""Write a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors, and any report files)
atomically: built in a staging folder beside OUT and renamed into place (checkpoint/publish.py).

Ranks that differ by module are written as PEFT expresses them: `r` / `lora_alpha` for the most common rank, and
`rank_pattern` / `alpha_pattern` entries keyed by the module's full name (dots escaped, so the regular expression
PEFT matches as `(.*\\.)?(pattern)$` names that module only). lora_alpha = r everywhere: the scaling is 1, the
factors hold the whole update.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import torch

from modelfusion.checkpoint.lora_adapter import CONFIG, PEFT_PREFIX
from modelfusion.checkpoint.publish import check_output_path, discard, make_staging, publish

WEIGHTS_FILE = "adapter_model.safetensors"


def rank_settings(ranks: dict[str, int]) -> dict:
    """`r`, `lora_alpha`, `rank_pattern`, `alpha_pattern` giving each module (full name) its rank, scaling 1."""
    if not ranks:
        return {"r": 1, "lora_alpha": 1, "rank_pattern": {}, "alpha_pattern": {}}
    common = Counter(ranks.values()).most_common(1)[0][0]
    pattern = {re.escape(m): r for m, r in sorted(ranks.items()) if r != common}
    return {"r": common, "lora_alpha": common, "rank_pattern": pattern, "alpha_pattern": dict(pattern)}


def factor_tensors(module: str, a: torch.Tensor, b: torch.Tensor, embedding: bool) -> dict[str, torch.Tensor]:
    """PEFT's saved names of a module's factors: lora_A/B.weight, or lora_embedding_A/B for an embedding."""
    stem = PEFT_PREFIX + module
    if embedding:
        return {f"{stem}.lora_embedding_A": a.contiguous(), f"{stem}.lora_embedding_B": b.contiguous()}
    return {f"{stem}.lora_A.weight": a.contiguous(), f"{stem}.lora_B.weight": b.contiguous()}


def write_adapter(
    out: Path,
    config: dict,
    tensors: dict[str, torch.Tensor],
    inputs: list[Path],
    *,
    overwrite: bool = False,
    extra_files: dict[str, str] | None = None,
) -> None:
    """Publish an adapter folder at `out`; `inputs` (never modified) may not contain or be inside it."""
    from safetensors.torch import save_file

    check_output_path(out, inputs, overwrite)
    staging = make_staging(out)
    try:
        save_file(tensors, str(staging / WEIGHTS_FILE), metadata={"format": "pt"})
        (staging / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        for name, text in (extra_files or {}).items():
            (staging / name).write_text(text, encoding="utf-8")
        publish(staging, out, overwrite)
    except BaseException:
        discard(staging)
        raise
