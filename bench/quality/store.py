"""A folder of trained task models, reused across runs: fine-tunes (encoder + head) and frozen-base probes.

An entry's folder name carries a hash of everything that determines it (base model files, task name, training
texts and labels, hyper-parameters, max_length), so a changed setting trains anew and an unchanged one is loaded.
Entries are written atomically (save_finetuned): a folder that exists is complete.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from bench.quality.finetune import FinetuneConfig, finetune, probe_task
from modelfusion.evaluate import ClassificationHead, Encoder, TextTask, load_encoder, save_head


def _fingerprint(base: Path, task: TextTask, config: FinetuneConfig, max_length: int, kind: str) -> str:
    h = hashlib.sha256()
    for p in sorted(base.glob("*")):
        if p.is_file():
            h.update(f"{p.name}:{p.stat().st_size}".encode())
    h.update((base / "config.json").read_bytes() if (base / "config.json").is_file() else b"")
    h.update(json.dumps([kind, task.name, task.labels, asdict(config), max_length]).encode())
    for ex in task.splits.train:
        h.update(f"{ex.label}\t{ex.text}\n".encode())
    return h.hexdigest()[:12]


def finetuned_folder(base: Path, task: TextTask, root: Path, config: FinetuneConfig, max_length: int) -> Path:
    """`root/<task>-<hash>/` with `encoder/` (HF folder) and `head.safetensors`, training it if not there yet."""
    out = root / f"{task.name}-{_fingerprint(base, task, config, max_length, 'finetune')}"
    if not (out / "head.safetensors").is_file():
        encoder = load_encoder(base, max_length)
        head = finetune(encoder, task, config)
        save_finetuned(encoder, head, task.name, out)
    return out


def probe_head_file(base: Path, task: TextTask, root: Path, config: FinetuneConfig, max_length: int) -> Path:
    """`root/<task>-probe-<hash>.safetensors`: a head trained on the frozen base encoder, trained if missing."""
    out = root / f"{task.name}-probe-{_fingerprint(base, task, config, max_length, 'probe')}.safetensors"
    if not out.is_file():
        head = probe_task(load_encoder(base, max_length), task, config)
        root.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(f".{out.name}.partial")
        save_head(head, partial, task.name)
        partial.replace(out)
    return out


def save_finetuned(encoder: Encoder, head: ClassificationHead, task: str, out: Path) -> None:
    """Write `out/encoder/` (a Hugging Face folder: safetensors weights, config, tokenizer) and `out/head.safetensors`.

    Written in a hidden staging folder renamed into place, so `out` only ever holds a complete result.
    """
    from modelfusion.checkpoint.publish import discard, make_staging, publish

    staging = make_staging(out)
    try:
        encoder.model.save_pretrained(staging / "encoder", safe_serialization=True)
        encoder.tokenizer.save_pretrained(staging / "encoder")
        _keep_source_buffers(encoder, staging / "encoder")
        save_head(head, staging / "head.safetensors", task)
        publish(staging, out, overwrite=True)
    except BaseException:
        discard(staging)
        raise


def _keep_source_buffers(encoder: Encoder, folder: Path) -> None:
    """Re-save the weights with every buffer the source checkpoint holds (e.g. BERT's int64 position_ids, which
    transformers 5 does not save), so the fine-tune has exactly the base's tensor names and merges with it."""
    from safetensors.torch import save_file

    from modelfusion.checkpoint import open_checkpoint

    if encoder.source is None:
        return
    source = open_checkpoint(encoder.source)
    try:
        names = set(source.infos)
    finally:
        source.close()
    state = encoder.model.state_dict()
    extra = {n: b for n, b in encoder.model.named_buffers() if n in names and n not in state}
    files = list(folder.glob("*.safetensors"))
    if not extra or len(files) != 1:
        return
    tensors = {n: t.detach().contiguous() for n, t in {**state, **extra}.items()}
    save_file(tensors, str(files[0]), metadata={"format": "pt"})
