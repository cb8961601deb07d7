"""Result rows of a benchmark run: a rich table, a Markdown table, and a matplotlib bar plot."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path


def rows(results: dict) -> list[dict]:
    """Base, each merge method (its chosen hyper-parameter), then the individual fine-tunes."""
    out = [{"name": "pretrained base (frozen, probe heads)", "setting": "-", **results["reference"]["base"]}]
    for m in results["methods"]:
        setting = "-" if m["chosen"]["param"] is None else f"{m['chosen']['param']}={m['chosen']['value']}"
        out.append({"name": m["name"], "setting": setting, **m})
    out.append({"name": "fine-tuned (one model per task)", "setting": "-", **results["reference"]["finetuned"]})
    return out


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def markdown_table(results: dict) -> str:
    tasks = results["tasks_order"]
    head = ["model", "setting", *[f"{t} acc" for t in tasks], "mean acc", "mean normalized"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows(results):
        cells = [r["name"], r["setting"], *[_fmt(r["test"][t]) for t in tasks]]
        cells += [_fmt(r["mean_accuracy"]), _fmt(r["mean_normalized"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def slerp_table(results: dict) -> str:
    lines = ["| pair | SLERP t=0.5 normalized | simple average normalized |", "|---|---|---|"]
    for p in results.get("slerp_pairs", []):
        lines.append(f"| {' + '.join(p['tasks'])} | {_fmt(p['slerp_normalized'])} | {_fmt(p['average_normalized'])} |")
    return "\n".join(lines) + "\n"


def print_table(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    tasks = results["tasks_order"]
    table = Table(title=f"all-MiniLM-L6-v2, {len(tasks)} tasks: test accuracy ({results['mode']} run)")
    for col in ["model", "setting", *tasks, "mean acc", "mean norm."]:
        table.add_column(col, justify="left" if col in ("model", "setting") else "right")
    for r in rows(results):
        table.add_row(
            r["name"],
            r["setting"],
            *[_fmt(r["test"][t]) for t in tasks],
            _fmt(r["mean_accuracy"]),
            _fmt(r["mean_normalized"]),
        )
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def plot(results: dict, path: Path) -> None:
    """Bars: mean normalized test accuracy per model; dots: each task's normalized accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = rows(results)
    tasks: Sequence[str] = results["tasks_order"]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    xs = list(range(len(data)))
    ax.bar(xs, [r["mean_normalized"] for r in data], color="#8fb3d9", label="mean over tasks")
    markers = "osD^vP*X"
    for i, t in enumerate(tasks):
        ax.scatter(xs, [r["normalized"][t] for r in data], marker=markers[i % len(markers)], s=22, zorder=3, label=t)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xticks(xs, [r["name"].split(" (")[0] for r in data], rotation=35, ha="right")
    ax.set_ylabel("normalized test accuracy\n(merged / task's own fine-tune)")
    ax.set_title(f"Merging {len(tasks)} all-MiniLM-L6-v2 fine-tunes ({results['mode']} run)")
    ax.legend(fontsize=8, ncol=3, loc="lower right")
    ax.set_ylim(0, max(1.1, max(max(r["normalized"].values()) for r in data) + 0.05))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
