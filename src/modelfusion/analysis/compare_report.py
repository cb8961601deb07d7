"""Tables, plots and the written report of a Comparison (`modelfusion compare`)."""

from __future__ import annotations

import math
from pathlib import Path

from modelfusion.analysis.compare import Comparison
from modelfusion.analysis.plots import heatmap, layer_lines, plots_available
from modelfusion.analysis.tables import Report, Table, fmt, pct
from modelfusion.analysis.task_vectors import TaskVectorStats
from modelfusion.errors import UserError

REPORT_FORMATS = ("md", "html")


def _pairs(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def _group_columns(c: Comparison) -> list[str]:
    m = c.models
    cols = ["elements"] + [f"‖τ‖ {x}" for x in m] + [f"cos {m[i]}·{m[j]}" for i, j in _pairs(len(m))]
    return cols + [f"conflicts @{c.density:g}"] + [f"share {x}" for x in m] + ["election loss"]


def _group_row(name: str, s: TaskVectorStats) -> list[str]:
    n = s.models
    row = [name, fmt(s.numel)] + [fmt(s.norm(i), 4) for i in range(n)]
    row += [fmt(s.cosine(i, j)) for i, j in _pairs(n)]
    return row + [pct(s.conflict_rate)] + [pct(s.elected_share(i)) for i in range(n)] + [pct(s.election_loss)]


def comparison_tables(c: Comparison) -> list[Table]:
    total = c.stats.total()
    n = len(c.models)
    overview = Table(
        "Task vectors τ = model − base",
        ["model", "‖τ‖", "‖τ‖ / ‖base‖", f"elected share @{c.density:g}"],
        [
            [m, fmt(total.norm(i), 4), fmt(total.relative_norm(i), 5), pct(total.elected_share(i))]
            for i, m in enumerate(c.models)
        ],
        note=(
            f"{c.tensors} tensors, {total.numel:,} parameters compared; sign-conflict rate at density "
            f"{c.density:g}: {pct(total.conflict_rate)}; mass lost to sign election: {pct(total.election_loss)}."
        ),
    )
    cosine = Table(
        "Cosine similarity of task vectors (all tensors)",
        ["", *c.models],
        [[a] + [fmt(total.cosine(i, j)) for j in range(n)] for i, a in enumerate(c.models)],
    )
    kinds = Table("By module type", ["module", *_group_columns(c)])
    kinds.rows = [_group_row(k, s) for k, s in c.stats.by_kind().items()]
    layers = Table("By layer", ["layer", *_group_columns(c)])
    layers.rows = [_group_row(str(i), s) for i, s in c.stats.by_layer().items()]
    outside = c.stats.outside_layers()
    if outside is not None:
        layers.rows.append(_group_row("outside layers", outside))
    return [overview, cosine, kinds, layers]


def skipped_table(c: Comparison, limit: int = 20) -> Table | None:
    if not c.skipped:
        return None
    rows = [[name, why] for name, why in c.skipped[:limit]]
    more = f" (first {limit} of {len(c.skipped)})" if len(c.skipped) > limit else ""
    return Table(f"Tensors left out{more}", ["tensor", "why"], rows)


def comparison_plots(c: Comparison, folder: Path, prefix: str = "") -> list[tuple[str, str]]:
    """Write the PNGs; return (caption, file name) pairs."""
    stats, n = c.stats, len(c.models)
    layers, kinds = stats.layers, stats.kinds
    images: list[tuple[str, str]] = []

    rows: list[int | None] = [*layers, None] if stats.outside_layers() is not None else list(layers)
    row_names = [str(r) if r is not None else "outside" for r in rows]

    def grid(value) -> list[list[float]]:
        cells = [[stats.groups.get((r, k)) for k in kinds] for r in rows]
        return [[value(s) if s is not None else math.nan for s in row] for row in cells]

    if layers and n >= 2:
        name = f"{prefix}cosine_heatmap.png"
        heatmap(
            grid(lambda s: s.mean_pairwise_cosine()),
            row_names,
            kinds,
            "task-vector cosine (mean over pairs): layer × module",
            folder / name,
            vmin=-1,
            vmax=1,
            cmap="coolwarm",
        )
        images.append(("Cosine similarity of task vectors per layer and module type", name))
    if layers:
        name = f"{prefix}conflict_heatmap.png"
        heatmap(
            grid(lambda s: s.conflict_rate),
            row_names,
            kinds,
            f"sign-conflict rate at density {c.density:g}: layer × module",
            folder / name,
            vmin=0,
            cmap="magma",
        )
        images.append((f"Sign-conflict rate (TIES, density {c.density:g}) per layer and module type", name))
    if n >= 3:
        total = stats.total()
        name = f"{prefix}cosine_matrix.png"
        heatmap(
            [[total.cosine(i, j) for j in range(n)] for i in range(n)],
            c.models,
            c.models,
            "task-vector cosine",
            folder / name,
            vmin=-1,
            vmax=1,
            cmap="coolwarm",
        )
        images.append(("Pairwise cosine similarity of task vectors", name))
    if layers:
        per_layer = list(stats.by_layer().values())
        panels = [
            ("‖τ‖", {m: [s.norm(i) for s in per_layer] for i, m in enumerate(c.models)}),
            ("conflict rate", {f"@{c.density:g}": [s.conflict_rate for s in per_layer]}),
            ("elected share", {m: [s.elected_share(i) for s in per_layer] for i, m in enumerate(c.models)}),
        ]
        if n >= 2:
            pairs = {f"{c.models[i]}·{c.models[j]}": [s.cosine(i, j) for s in per_layer] for i, j in _pairs(n)}
            panels.insert(1, ("cosine", pairs))
        name = f"{prefix}layers.png"
        layer_lines(layers, panels, f"task vectors per layer (base {c.base})", folder / name)
        images.append(("Task-vector norm, cosine, sign conflicts and elected share per layer", name))
    return images


def comparison_report(c: Comparison, images: list[tuple[str, str]]) -> Report:
    intro = [
        f"Base: `{c.base}`. Models: {', '.join(f'`{m}`' for m in c.models)}. Density for the TIES view: {c.density:g}.",
        "τ = model − base. cos: cosine similarity of two task vectors. conflicts: among positions where at least one "
        "trimmed task vector is non-zero, the share where they have both signs. share: each model's part of the "
        "|value| mass that survives trimming to the density and sign election (TIES). election loss: the share of "
        "the trimmed mass that sign election discards.",
    ]
    tables = comparison_tables(c)
    skipped = skipped_table(c)
    if skipped:
        tables.append(skipped)
    return Report("Task-vector comparison", intro, tables, images)


def check_report_options(out_dir: Path, fmt_name: str = "md", plots: bool = True) -> None:
    """A UserError now, before the comparison streams every tensor, for a report that could not be written."""
    if fmt_name not in REPORT_FORMATS:
        raise UserError(f"unknown format '{fmt_name}' (use md or html)", where="--format")
    if plots and not plots_available():
        raise UserError("plots need matplotlib: pip install 'modelfusion[plots]', or pass --no-plots")
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError("exists and is not a folder", where=str(out_dir))


def write_comparison(c: Comparison, out_dir: Path, fmt_name: str = "md", plots: bool = True) -> Path:
    """Write report.md (or report.html) and its PNGs into `out_dir`; return the report path."""
    check_report_options(out_dir, fmt_name, plots)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = comparison_plots(c, out_dir) if plots else []
    report = comparison_report(c, images)
    path = out_dir / f"report.{fmt_name}"
    path.write_text(report.to_html() if fmt_name == "html" else report.to_markdown(), encoding="utf-8")
    return path
