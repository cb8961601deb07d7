"""`modelfusion merge --report`: what the merge just done did, per layer and module type (math: merge_stats.py).

The engine calls the collector after each merged job with the job's input tensors, base tensor and output tensor
(on a resumed run, the journaled jobs too: engine/observe_written.py); the collector reduces them to sums at once
(nothing is kept), so the report costs no extra memory beyond one job.
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from modelfusion.analysis.compare import short_labels
from modelfusion.analysis.groups import GroupedStats
from modelfusion.analysis.merge_stats import MergeStats, merge_tensor_stats
from modelfusion.analysis.module_kind import group_of
from modelfusion.analysis.plots import heatmap, layer_lines, plots_available
from modelfusion.analysis.tables import Report, Table, fmt, pct
from modelfusion.plan.job import COPY, Job, MergePlan

REPORT_NAME = "merge_report.md"


class MergeReportCollector:
    """Observer for the engine: `collector(job, inputs, base, output)`; thread-safe."""

    def __init__(self, plan: MergePlan) -> None:
        self.plan = plan
        labels: list[str] = []
        for job in plan.jobs:
            for ref in job.inputs if job.method != COPY else []:
                if ref.model not in labels:
                    labels.append(ref.model)
        self._index = {m: i for i, m in enumerate(labels)}
        self.models = short_labels(labels)
        """Display labels (last path component), in the order of `_index`."""
        self.stats: GroupedStats[MergeStats] = GroupedStats(lambda: MergeStats(len(labels)))
        self.observed = 0
        self._lock = threading.Lock()

    def __call__(self, job: Job, inputs: list[torch.Tensor], base: torch.Tensor | None, out: torch.Tensor) -> None:
        if job.method == COPY or not inputs or not out.dtype.is_floating_point:
            return
        index = [self._index[r.model] for r in job.inputs]
        stats = merge_tensor_stats(inputs, base, out, index, len(self.models))
        with self._lock:
            self.stats.add(group_of(job.out.name), stats)
            self.observed += 1

    @property
    def merged_jobs(self) -> int:
        return sum(1 for j in self.plan.jobs if j.method != COPY)

    # -- rendering ---------------------------------------------------------------------------------------
    @property
    def with_base(self) -> bool:
        return any(j.base is not None for j in self.plan.jobs)

    def _columns(self) -> list[str]:
        m = self.models
        weights = [f"weight {x}" for x in m] + ["linear fit"]
        if not self.with_base:
            return ["elements", *weights]
        return (
            ["elements", "changed", "sign conflicts", *weights] + [f"kept {x}" for x in m] + [f"share {x}" for x in m]
        )

    def _row(self, name: str, s: MergeStats) -> list[str]:
        n = len(self.models)
        weights = [fmt(w) for w in s.effective_weights()] + [pct(s.linear_fit)]
        if not self.with_base:
            return [name, fmt(s.numel), *weights]
        row = [name, fmt(s.numel), pct(s.changed_fraction), pct(s.conflict_rate), *weights]
        return row + [pct(s.kept_fraction(i)) for i in range(n)] + [pct(s.agreement_share(i)) for i in range(n)]

    def tables(self) -> list[Table]:
        total = Table("Whole model", ["", *self._columns()], [self._row("all merged tensors", self.stats.total())])
        kinds = Table("By module type", ["module", *self._columns()])
        kinds.rows = [self._row(k, s) for k, s in self.stats.by_kind().items()]
        layers = Table("By layer", ["layer", *self._columns()])
        layers.rows = [self._row(str(i), s) for i, s in self.stats.by_layer().items()]
        outside = self.stats.outside_layers()
        if outside is not None:
            layers.rows.append(self._row("outside layers", outside))
        return [total, kinds, layers]

    def plots(self, folder: Path) -> list[tuple[str, str]]:
        stats = self.stats
        layers = stats.layers
        if not layers or not plots_available():
            return []
        per_layer = list(stats.by_layer().values())
        m = self.models
        panels = [("effective weight", {x: [s.effective_weights()[i] for s in per_layer] for i, x in enumerate(m)})]
        if self.with_base:
            panels += [
                ("changed", {"all": [s.changed_fraction for s in per_layer]}),
                ("sign conflicts", {"all": [s.conflict_rate for s in per_layer]}),
                ("kept", {x: [s.kept_fraction(i) for s in per_layer] for i, x in enumerate(m)}),
                ("share", {x: [s.agreement_share(i) for s in per_layer] for i, x in enumerate(m)}),
            ]
        images = [
            ("Per layer: effective weights, changed values, sign conflicts, kept values, shares", "merge_layers.png")
        ]
        layer_lines(layers, panels, f"merge report ({self.plan.method})", folder / images[0][1])
        if not self.with_base:
            return images
        kinds = [k for k in stats.kinds if any((layer, k) in stats.groups for layer in layers)]
        cells = [[stats.cell(layer, k) for k in kinds] for layer in layers]
        maps = [("changed", "values changed", lambda c: c.changed_fraction, "merge_changed_heatmap.png")]
        if len(m) >= 2:
            maps.append(
                (f"share of {m[0]}", f"share of {m[0]}", lambda c: c.agreement_share(0), "merge_share_heatmap.png")
            )
        for title, caption, value, name in maps:
            grid = [[value(c) if c is not None else float("nan") for c in row] for row in cells]
            heatmap(grid, [str(i) for i in layers], kinds, f"{title}: layer × module", folder / name, 0, 1, "viridis")
            images.append((f"Merge report: {caption} per layer and module type", name))
        return images

    def report(self, images: list[tuple[str, str]]) -> Report:
        base = short_labels([self.plan.base_model])[0] if self.with_base and self.plan.base_model else None
        intro = [
            f"Method: `{self.plan.method}`. Models merged: {', '.join(f'`{x}`' for x in self.models)}"
            + (f"; base: `{base}`." if base else " (no base model: statistics on the weights themselves)."),
            "weight: least-squares coefficients a minimising ‖y − Σ a_i v_i‖ (v = τ = model − base and y = merged − "
            "base with a base; else the weights themselves). linear fit: the share of ‖y‖² they explain. changed: "
            "values the merge moved away from the base. sign conflicts: positions where the τ_i have both signs, among "
            "positions where some τ_i ≠ 0. kept: each model's non-zero τ values whose sign the output follows. share: "
            "each model's part of the |τ| mass pointing where the output went.",
        ]
        missing = self.merged_jobs - self.observed
        if missing:
            intro.append(f"{missing} merged tensor(s) were not observed and are left out.")
        return Report("Merge report", intro, self.tables(), images)

    def write(self, folder: Path) -> Path:
        """Write merge_report.md and its PNGs into `folder` (the staging folder, before it is published)."""
        images = self.plots(folder)
        path = folder / REPORT_NAME
        path.write_text(self.report(images).to_markdown(), encoding="utf-8")
        return path
