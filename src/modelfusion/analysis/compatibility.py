"""`inspect`: can these models be merged, by which methods, at what cost; if not, why, and what to do instead.

Metadata only: checkpoints are opened with `open_checkpoint` (headers and config.json) and every method is
checked by building the real merge plan with `build_plan`, which finds every problem without reading tensor data.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from modelfusion.analysis.compare import short_labels
from modelfusion.analysis.model_facts import ModelFacts, config_rows, model_facts
from modelfusion.checkpoint import Checkpoint, open_checkpoint
from modelfusion.checkpoint.shard_layout import DEFAULT_SHARD_BYTES, ShardLayout
from modelfusion.engine.runner import tensors_in_flight
from modelfusion.errors import PlanError, UserError
from modelfusion.methods import MergeMethod, all_methods
from modelfusion.plan import build_plan
from modelfusion.plan.summary import summarize
from modelfusion.recipe.schema import Recipe

MAX_REASONS = 3


@dataclass
class MethodVerdict:
    method: str
    applies: bool
    reasons: list[str] = field(default_factory=list)
    estimate: dict | None = None
    """bytes_to_read, bytes_to_write, peak_memory, threads of the merge (when it applies); no time (plan/summary.py)."""


@dataclass
class Compatibility:
    models: list[ModelFacts]
    base: str | None
    config: list[tuple[str, list[str], bool]]
    common_tensors: int
    only_in: dict[str, list[str]]
    shape_differences: list[tuple[str, list[str]]]
    dtype_differences: list[tuple[str, list[str]]]
    tokenizer: list[tuple[str, list[str]]]
    """(file, per model: 'same' / 'differs' / 'missing')."""
    vocabulary: str
    methods: list[MethodVerdict]
    advice: str

    @property
    def mergeable(self) -> bool:
        return any(v.applies for v in self.methods)

    def as_dict(self) -> dict:
        return {
            "models": [m.as_dict() for m in self.models],
            "base": self.base,
            "config": [{"key": k, "values": v, "differs": d} for k, v, d in self.config],
            "common_tensors": self.common_tensors,
            "only_in": self.only_in,
            "shape_differences": [{"tensor": n, "shapes": s} for n, s in self.shape_differences],
            "dtype_differences": [{"tensor": n, "dtypes": s} for n, s in self.dtype_differences],
            "tokenizer": [{"file": f, "status": s} for f, s in self.tokenizer],
            "vocabulary": self.vocabulary,
            "mergeable": self.mergeable,
            "methods": [v.__dict__ for v in self.methods],
            "advice": self.advice,
        }


def _placeholder(spec) -> object:
    """A valid value for a required parameter, so that only structural problems remain."""
    if spec.type is bool:
        return False
    if spec.low is not None and spec.high is not None:
        value = (spec.low + spec.high) / 2
    elif spec.low is not None:
        value = max(spec.low, 1.0)
    elif spec.high is not None:
        value = min(spec.high, 1.0)
    else:
        value = 1.0
    return spec.type(value)


def _verdict(method: MergeMethod, ckpts: dict[str, Checkpoint], base: str | None) -> MethodVerdict:
    if method.base_role == "separate" and base is None:
        return MethodVerdict(method.name, False, ["needs a base model: pass --base MODEL"])
    params = {p.name: _placeholder(p) for p in method.params if p.required}
    recipe = Recipe.model_validate(
        {
            "merge_method": method.name,
            "base_model": base if method.base_role != "none" else None,
            "models": [{"model": label} for label in ckpts],
            "parameters": params or None,
        }
    )
    try:
        plan = build_plan(recipe, ckpts)
    except PlanError as e:
        reasons = e.problems[:MAX_REASONS]
        if len(e.problems) > MAX_REASONS:
            reasons.append(f"... and {len(e.problems) - MAX_REASONS} more problem(s)")
        return MethodVerdict(method.name, False, reasons)
    except UserError as e:
        return MethodVerdict(method.name, False, [e.message])
    threads = os.cpu_count() or 1
    shards = len(ShardLayout(plan.out_tensors, DEFAULT_SHARD_BYTES).shards)
    summary = summarize(plan, threads, shards, tensors_in_flight(plan, threads))
    estimate = {
        "bytes_to_read": summary.bytes_to_read,
        "bytes_to_write": summary.bytes_to_write,
        "peak_memory": summary.peak_memory,
        "threads": threads,
    }
    return MethodVerdict(method.name, True, [], estimate)


def _tensor_differences(ckpts: list[Checkpoint]):
    names = [set(c.infos) for c in ckpts]
    common = set.intersection(*names)
    only_in = {c.label: sorted(n - common) for c, n in zip(ckpts, names) if n - common}
    shapes, dtypes = [], []
    for name in sorted(common):
        infos = [c.infos[name] for c in ckpts]
        if len({i.shape for i in infos}) > 1:
            shapes.append((name, [str(list(i.shape)) for i in infos]))
        if len({i.dtype for i in infos}) > 1:
            dtypes.append((name, [str(i.dtype).removeprefix("torch.") for i in infos]))
    return len(common), only_in, shapes, dtypes


def _tokenizer_rows(facts: list[ModelFacts]) -> list[tuple[str, list[str]]]:
    files = sorted({f for m in facts for f in m.tokenizer_files})
    rows = []
    for name in files:
        hashes = [m.tokenizer_files.get(name, "missing") for m in facts]
        present = [h for h in hashes if h != "missing"]
        first = present[0]
        rows.append((name, ["missing" if h == "missing" else ("same" if h == first else "differs") for h in hashes]))
    return rows


def _vocabulary(facts: list[ModelFacts], tokenizer: list[tuple[str, list[str]]]) -> tuple[str, bool]:
    """A one-line verdict on vocabularies, and whether the models share one."""
    sizes = {m.vocab_size for m in facts} | {m.embedding_rows for m in facts}
    sizes.discard(None)
    rows = {m.embedding_rows for m in facts}
    if len(rows) > 1 or len({m.vocab_size for m in facts}) > 1:
        detail = ", ".join(f"{m.label}: {m.vocab_size} (embedding rows {m.embedding_rows})" for m in facts)
        return f"vocabularies differ ({detail}): embeddings cannot be merged row for row", False
    if not any(m.tokenizer_files for m in facts):
        return "no tokenizer files found; vocabulary sizes agree" if sizes else "no vocabulary information", True
    differing = [f for f, status in tokenizer if any(s != "same" for s in status)]
    if differing:
        return (
            f"same vocabulary size but tokenizer files differ or are missing ({', '.join(differing)}): "
            "check that token ids mean the same tokens before merging embeddings",
            False,
        )
    return "same vocabulary size and identical tokenizer files", True


def _advice(facts: list[ModelFacts], verdicts: list[MethodVerdict], same_vocab: bool) -> str:
    ok = [v.method for v in verdicts if v.applies]
    if ok:
        return (
            f"The weights can be merged ({len(ok)} method(s) apply). An output-space ensemble also works, at "
            f"{len(facts)}x the inference cost."
        )
    how = (
        "average their predicted probabilities or vote"
        if same_vocab
        else "combine their outputs at the label or text level (voting, stacking): token-level probability averaging "
        "needs one shared tokenizer"
    )
    return f"The weights cannot be merged with any method. Use an output-space ensemble instead: {how}."


def inspect_checkpoints(ckpts: dict[str, Checkpoint], base: str | None = None) -> Compatibility:
    """The compatibility report of opened checkpoints (keys are labels; `base` one of them)."""
    if base is not None and base not in ckpts:
        raise UserError(f"base '{base}' is not one of the models", where="--base")
    facts = [model_facts(c) for c in ckpts.values()]
    common, only_in, shapes, dtypes = _tensor_differences(list(ckpts.values()))
    tokenizer = _tokenizer_rows(facts)
    vocabulary, same_vocab = _vocabulary(facts, tokenizer)
    verdicts = [_verdict(m, ckpts, base) for m in all_methods()]
    return Compatibility(
        models=facts,
        base=base,
        config=config_rows(facts),
        common_tensors=common,
        only_in=only_in,
        shape_differences=shapes,
        dtype_differences=dtypes,
        tokenizer=tokenizer,
        vocabulary=vocabulary,
        methods=verdicts,
        advice=_advice(facts, verdicts, same_vocab),
    )


def inspect_models(models: Sequence[str | Path], base: str | Path | None = None) -> Compatibility:
    """Open `models` (and `base`, added first if not among them) by metadata and report their compatibility."""
    refs = [str(m) for m in models]
    if base is not None and str(base) not in refs:
        refs.insert(0, str(base))
    labels = short_labels(refs)
    opened: dict[str, Checkpoint] = {}
    try:
        for ref, label in zip(refs, labels):
            opened[label] = open_checkpoint(ref, label=label)
        base_label = labels[refs.index(str(base))] if base is not None else None
        return inspect_checkpoints(opened, base_label)
    finally:
        for c in opened.values():
            c.close()
