"""PNG plots with matplotlib (the `plots` extra), imported lazily with the non-interactive Agg backend."""

from __future__ import annotations

import math
from pathlib import Path

from modelfusion.errors import UserError


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise UserError("plots need matplotlib: pip install 'modelfusion[plots]' (or pass --no-plots)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plots_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def heatmap(
    values: list[list[float]],
    rows: list[str],
    columns: list[str],
    title: str,
    path: Path,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "viridis",
) -> Path:
    """A rows x columns grid of values, annotated; NaN cells are left blank."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.4 + 1.1 * len(columns), 1.2 + 0.42 * len(rows)), dpi=110)
    masked = [[math.nan if v is None else v for v in row] for row in values]
    image = ax.imshow(masked, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    for r, row in enumerate(masked):
        for c, v in enumerate(row):
            if not math.isnan(v):
                red, green, blue, _ = image.cmap(image.norm(v))
                light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5
                ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7, color="black" if light else "white")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def layer_lines(
    layers: list[int],
    panels: list[tuple[str, dict[str, list[float]]]],
    title: str,
    path: Path,
) -> Path:
    """One panel per (y label, {series name: value per layer}), layers on the x axis."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.3 * len(panels)), dpi=110, sharex=True, squeeze=False)
    for ax, (ylabel, series) in zip(axes[:, 0], panels):
        for name, ys in series.items():
            ax.plot(layers, ys, marker="o", markersize=3, label=name)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=7, loc="best")
    axes[-1, 0].set_xlabel("layer")
    axes[-1, 0].set_xticks(layers)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
