"""Extract a PEFT LoRA adapter from a fine-tune: truncated SVD of each linear module's task vector.

For a linear weight W [out, in] with task vector Delta = W_ft - W_base = U S V^T, the adapter holds (scaling 1)

    A = S_k^(1/2) V_k^T  [k, in],    B = U_k S_k^(1/2)  [out, k],    B A = the best rank-k approximation of Delta

with k = --rank, or the smallest k keeping a fraction --energy of sum_j s_j^2 (capped by --rank when both are
given), at most min(out, in). Its relative error ||Delta - B A||_F / ||Delta||_F = sqrt(sum_{j>k} s_j^2 /
sum_j s_j^2) is reported per module. Other changed tensors (embeddings, norms, biases, anything not a 2-D linear
weight) are skipped (error 1), or with `full_modules` their modules are saved whole as PEFT `modules_to_save`
(error 0); a bias of a LoRA-targeted module cannot be saved so and is skipped. Unchanged tensors are left out.

Tensors are read one fine-tune / base pair at a time; only the factors are kept until the adapter is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from modelfusion.checkpoint import open_checkpoint
from modelfusion.checkpoint.dtypes import is_float
from modelfusion.checkpoint.lora_adapter import PEFT_PREFIX
from modelfusion.errors import UserError
from modelfusion.lora.adapter_output import factor_tensors, rank_settings, write_adapter
from modelfusion.methods.low_rank import balanced_factors, energy_rank, relative_error

REPORT_FILE = "extraction_report.json"
_EMBEDDING = re.compile(r"embed|(^|\.)(wte|wpe|shared)(\.|$)|token_type")
CONV1D_MODELS = ("gpt2",)


@dataclass(frozen=True)
class ExtractOptions:
    """`rank` and/or `energy` (one is needed); `full_modules`: save changed non-linear modules whole."""

    rank: int | None = None
    energy: float | None = None
    full_modules: bool = False


@dataclass(frozen=True)
class ModuleReport:
    """One changed tensor: `kind` lora / saved whole / skipped, its LoRA rank, its relative error."""

    tensor: str
    kind: str
    shape: list[int]
    rank: int | None
    relative_error: float


@dataclass
class ExtractResult:
    out: Path
    modules: list[ModuleReport] = field(default_factory=list)


def _check(options: ExtractOptions) -> None:
    if options.rank is None and options.energy is None:
        raise UserError("give --rank R and/or --energy E (the fraction of spectral energy kept, 0 to 1)")
    if options.rank is not None and options.rank < 1:
        raise UserError(f"--rank must be at least 1, got {options.rank}")
    if options.energy is not None and not 0 < options.energy <= 1:
        raise UserError(f"--energy must be in (0, 1], got {options.energy}")


def is_linear_weight(name: str, shape: tuple[int, ...]) -> bool:
    """A 2-D `.weight` of a module that is not an embedding (by name): an nn.Linear-like module."""
    return len(shape) == 2 and name.endswith(".weight") and not _EMBEDDING.search(name.lower())


def _rank(s: torch.Tensor, options: ExtractOptions) -> int:
    k = len(s) if options.energy is None else energy_rank(s, options.energy)
    return min(k, options.rank) if options.rank is not None else k


def extract_lora(
    finetune: Path,
    base: Path,
    out: Path,
    options: ExtractOptions,
    *,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ExtractResult:
    """Write the adapter (and REPORT_FILE) to `out`; the inputs are only read."""
    _check(options)
    with open_checkpoint(finetune) as ft, open_checkpoint(base) as bs:
        if (ft.config or {}).get("model_type") in CONV1D_MODELS:
            raise UserError("GPT-2's Conv1D layers (fan_in_fan_out) are not supported by extract-lora", str(finetune))
        _same_names(ft, bs)
        tensors: dict[str, torch.Tensor] = {}
        ranks: dict[str, int] = {}
        reports: list[ModuleReport] = []
        changed_other: list[str] = []
        names = list(ft.infos)
        for i, name in enumerate(names):
            info = ft.infos[name]
            if progress:
                progress(i, len(names))
            if not is_float(info.dtype):
                if not torch.equal(ft.read(name), bs.read(name)):
                    changed_other.append(name)
                continue
            new, old = ft.read(name), bs.read(name)
            work = torch.float64 if new.dtype == torch.float64 else torch.float32
            delta = new.to(work) - old.to(work)
            del new, old
            if not delta.any():
                continue
            if not is_linear_weight(name, tuple(info.shape)):
                changed_other.append(name)
                continue
            module = name.removesuffix(".weight")
            u, s, vh = torch.linalg.svd(delta, full_matrices=False)
            k = _rank(s, options)
            a, b = balanced_factors(u, s, vh, k)
            tensors.update(factor_tensors(module, a.to(info.dtype), b.to(info.dtype), embedding=False))
            ranks[module] = k
            reports.append(ModuleReport(name, "lora", list(info.shape), k, relative_error(s, k)))
        saved = _saved_whole(ft, changed_other, set(ranks), options, reports, tensors)
        config = _config(ft.config or {}, base, ranks, saved)
        report = {"options": asdict(options), "modules": [asdict(r) for r in reports]}
        write_adapter(
            out,
            config,
            tensors,
            [Path(finetune), Path(base)],
            overwrite=overwrite,
            extra_files={REPORT_FILE: json.dumps(report, indent=2) + "\n"},
        )
    return ExtractResult(Path(out), reports)


def _same_names(ft, bs) -> None:
    missing = sorted(set(ft.infos) ^ set(bs.infos))
    if missing:
        raise UserError(f"the fine-tune and the base differ in tensor names (e.g. '{missing[0]}'): not one model")
    for name, info in ft.infos.items():
        if tuple(info.shape) != tuple(bs.infos[name].shape):
            raise UserError(
                f"'{name}' has shape {list(info.shape)} in the fine-tune, {list(bs.infos[name].shape)} in the base"
            )


def _saved_whole(ft, changed: list[str], targets: set[str], options, reports, tensors) -> list[str]:
    """Modules of the changed non-linear tensors saved whole (with full_modules) or reported as skipped."""
    saved: list[str] = []
    for name in changed:
        module = name.rpartition(".")[0]
        shape = list(ft.infos[name].shape)
        if not options.full_modules or module in targets or not module:
            reports.append(ModuleReport(name, "skipped", shape, None, 1.0))
            continue
        if module not in saved:
            saved.append(module)
            for param in (n for n in ft.infos if n.rpartition(".")[0] == module):
                tensors[PEFT_PREFIX + param] = ft.read(param)
        reports.append(ModuleReport(name, "saved whole", shape, None, 0.0))
    return saved


def _config(model_config: dict, base: Path, ranks: dict[str, int], saved: list[str]) -> dict:
    architectures = model_config.get("architectures") or []
    causal = any(str(a).endswith("ForCausalLM") for a in architectures)
    return {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM" if causal else None,
        "base_model_name_or_path": str(base),
        **rank_settings(ranks),
        "target_modules": sorted(ranks),
        "modules_to_save": saved or None,
        "fan_in_fan_out": False,
        "bias": "none",
        "lora_dropout": 0.0,
        "use_rslora": False,
        "use_dora": False,
        "init_lora_weights": True,
        "inference_mode": True,
    }
