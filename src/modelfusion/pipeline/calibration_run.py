"""Calibration jobs at plan time and at run time.

Plan time: a job whose statistics file is not computed yet is planned against the file it will produce
(`planned_statistics`: the model built on the meta device from its config, no weights read, gives every entry's
name and shape, exactly as calibrate/ will write them). Run time: `run_calibration` computes (or finds cached)
each file with `calibrate()`, just before the stage runs; the stage is then planned again from the real files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from modelfusion.checkpoint import Checkpoint, TensorInfo, open_checkpoint
from modelfusion.errors import ModelFusionError, UserError
from modelfusion.pipeline.calibration import CalibrationJob, with_statistics
from modelfusion.plan.problems import Problems
from modelfusion.plan.statistics import open_statistics

Progress = Callable[[str, int, int], None]
"""progress(model, done, total): calibration batches run for `model`."""


class _PlannedStatistics:
    def __init__(self, infos: dict[str, TensorInfo]) -> None:
        self.infos = infos

    def read(self, name: str) -> torch.Tensor:
        raise RuntimeError(f"statistics not computed yet ({name})")

    def close(self) -> None:
        pass


def planned_statistics(job: CalibrationJob) -> Checkpoint:
    """The entries `job` will write, from the model built on the meta device (a one-line error if it cannot be)."""
    from modelfusion.calibrate.gram import gram_entry, linear_layers

    try:
        model = _meta_model(job.folder)
    except Exception as e:  # transformers' own errors: the config cannot be built
        raise UserError(f"cannot build the model for calibration: {type(e).__name__}: {e}", str(job.folder)) from None
    shapes: dict[str, tuple[int, ...]] = {}
    if "gram" in job.stats:
        shapes.update({gram_entry(n): (m.in_features, m.in_features) for n, m in linear_layers(model)})
    if "fisher" in job.stats:
        shapes.update({f"fisher:{n}": tuple(p.shape) for n, p in model.named_parameters() if p.requires_grad})
    label = str(job.out)
    infos = {n: TensorInfo(n, s, torch.float32, label) for n, s in shapes.items()}
    return Checkpoint(label, [_PlannedStatistics(infos)])


def _meta_model(folder: Path) -> torch.nn.Module:
    """The class calibrate/hf_model.load_model loads, instantiated on the meta device."""
    import transformers

    config = transformers.AutoConfig.from_pretrained(str(folder), local_files_only=True)
    archs = getattr(config, "architectures", None) or []
    cls = getattr(transformers, archs[0], None) if archs else None
    with torch.device("meta"):
        if cls is None:
            return transformers.AutoModelForCausalLM.from_config(config)
        return cls(config)


def stage_statistics(
    recipe: Any, recipe_file: Path | None, jobs: tuple[CalibrationJob, ...], where: str | None
) -> dict[str, Checkpoint]:
    """Every statistics file of a stage, opened (metadata only): the user's, the cached computed ones, and for
    jobs not computed yet their planned entries. Missing user files are a PlanError naming them."""
    problems = Problems()
    opened = open_statistics(with_statistics(recipe, {j.model: None for j in jobs}), recipe_file, problems)
    try:
        problems.raise_if_any(where)
        for job in jobs:
            opened[job.model] = _computed_or_planned(job)
    except BaseException:
        for c in opened.values():
            c.close()
        raise
    return opened


def _computed_or_planned(job: CalibrationJob) -> Checkpoint:
    """The job's file if it is there and readable (else calibrate() computes it again), else its planned entries."""
    if job.out.is_file():
        try:
            return open_checkpoint(job.out, label=str(job.out))
        except ModelFusionError:
            pass
    return planned_statistics(job)


def job_data(job: CalibrationJob) -> Any:
    """The job's batches: a text file (tokenized by calibrate), or what its function returns (strings are
    tokenized like a text file's lines); given Fisher labels of text are its own next tokens."""
    from modelfusion.calibrate.data import Batch, string_batches
    from modelfusion.calibrate.hf_model import load_tokenizer

    sizes = {"batch_size": job.batch_size, "max_length": job.max_length, "examples": job.examples}
    if job.function is not None:
        try:
            items = list(job.function())
        except Exception as e:  # the user's function
            raise UserError(f"calibration function failed: {type(e).__name__}: {e}", job.source) from None
        if not items or not all(isinstance(i, str) for i in items):
            return items
        batches = string_batches(items, load_tokenizer(job.folder), where=job.source, **sizes)
    elif job.fisher_labels == "given" and "fisher" in job.stats:
        batches = string_batches(
            job.text.read_text(encoding="utf-8").splitlines(),  # type: ignore[union-attr]
            load_tokenizer(job.folder),
            where=str(job.text),
            **sizes,
        )
    else:
        return job.text
    if job.fisher_labels != "given":
        return batches
    out = []
    for b in batches:
        ids, mask = b.inputs["input_ids"], b.mask  # type: ignore[index]
        out.append(Batch(b.inputs, ids.masked_fill(mask == 0, -100) if mask is not None else ids))
    return out


def run_calibration(
    jobs: tuple[CalibrationJob, ...], device: str, progress: Progress | None = None
) -> list[CalibrationJob]:
    """Compute each job's statistics file (or find it cached: same model, data and options)."""
    from modelfusion.calibrate import calibrate

    for job in jobs:
        step = (lambda done, total, m=job.model: progress(m, done, total)) if progress else None
        calibrate(
            job.folder,
            job_data(job),
            job.out,
            stats=job.stats,
            fisher_labels=job.fisher_labels,  # type: ignore[arg-type]
            seed=job.seed,
            batch_size=job.batch_size,
            max_length=job.max_length,
            examples=job.examples,
            device=device,
            progress=step,
        )
    return list(jobs)
