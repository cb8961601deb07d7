"""The one orchestration path of a merge: resolve and plan every stage, then run, journal and publish each.

Intermediate stages of a multi-stage recipe are written to their cache folder (reused while it exists), the last
stage to OUT. Options apply to every stage except `overwrite` and `report`, which concern OUT only; `resume`
continues whichever stage an earlier run left interrupted (its staging folder, beside the cache folder or OUT).
"""

from __future__ import annotations

from pathlib import Path

from modelfusion.checkpoint.publish import check_output_path
from modelfusion.checkpoint.shard_layout import ShardLayout
from modelfusion.engine.run_options import RunOptions
from modelfusion.engine.runner import tensors_in_flight
from modelfusion.pipeline.calibration_run import run_calibration
from modelfusion.pipeline.options import MergeOptions
from modelfusion.pipeline.result import MergeResult
from modelfusion.pipeline.stages import PlannedStage, plan_stage, plan_stages, resolve_stages
from modelfusion.pipeline.write import write_output
from modelfusion.plan import MergePlan
from modelfusion.plan.summary import PlanSummary, summarize
from modelfusion.recipe import LoadedRecipe


def run_merge(stages: list[LoadedRecipe], out: Path, options: MergeOptions) -> MergeResult:
    """Merge the recipe `stages` into the folder `out` (nothing is written before every stage is planned)."""
    specs = resolve_stages(stages, out, options)
    checks = {"strict": options.strict, "allow_crimes": options.allow_crimes}
    with plan_stages(specs, options.random_seed, **checks) as plans:
        final = plans.final.plan
        computed = tuple(j for s in specs for j in s.calibration)
        if options.dry_run:
            layout = ShardLayout(final.out_tensors, options.shard_bytes)
            return MergeResult(None, _summary(final, layout, options), calibration=computed)
        check_output_path(out, final.input_paths(), options.overwrite)  # before any stage runs
        on_stage = options.callbacks.on_stage
        resumed = 0
        summary: PlanSummary | None = None
        for stage in plans.stages:
            spec = stage.spec
            reused = not spec.final and spec.out.exists()
            if on_stage and len(specs) > 1:
                on_stage(spec.index, spec.name, spec.out, reused)
            if reused:
                continue
            if spec.calibration:  # every stage is planned: now the models run
                run_calibration(spec.calibration, options.device, options.callbacks.on_calibrate)
            if stage.provisional:  # its inputs now exist: plan it from disk
                with plan_stage(spec, options.random_seed, named=True, **checks) as fresh:
                    summary, n = _run_stage(fresh, options)
            else:
                summary, n = _run_stage(stage, options)
            resumed += n
        assert summary is not None  # the last stage always runs
        return MergeResult(out, summary, resumed, computed)


def _summary(plan: MergePlan, layout: ShardLayout, options: MergeOptions) -> PlanSummary:
    threads = options.threads
    return summarize(plan, threads, len(layout.shards), tensors_in_flight(plan, threads))


def _run_stage(stage: PlannedStage, options: MergeOptions) -> tuple[PlanSummary, int]:
    """Write one stage; returns its summary and how many tensors were resumed from its journal."""
    plan, spec = stage.plan, stage.spec
    layout = ShardLayout(plan.out_tensors, options.shard_bytes)
    summary = _summary(plan, layout, options)
    overwrite = options.overwrite and spec.final
    check_output_path(spec.out, plan.input_paths(), overwrite)
    if options.callbacks.on_start:
        options.callbacks.on_start(summary)
    collector = None
    if options.report and spec.final:
        from modelfusion.analysis.merge_report import MergeReportCollector

        collector = MergeReportCollector(plan)
    resumed = write_output(
        plan,
        layout,
        spec.out,
        threads=options.threads,
        device=options.device,
        overwrite=overwrite,
        resume=options.resume,
        on_progress=options.callbacks.on_progress,
        run_options=RunOptions(allow_nonfinite=options.allow_nonfinite, observer=collector),
        before_publish=collector.write if collector is not None else None,
        copy_tokenizer=options.copy_tokenizer,
        model_card=options.write_model_card,
        hash_inputs=options.hash_inputs,
        chat_template=spec.recipe.chat_template,
        out_format=options.out_format if spec.final else "safetensors",  # later stages read earlier ones
    )
    return summary, resumed
