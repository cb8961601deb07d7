"""Tables and a per-round accuracy plot from results.json.

Per (alpha, strategy): final global accuracy and its mean over the last 3 rounds (mean ± std over seeds), without
and with the malicious client; the change the malicious client causes; wall seconds per run. The plot has one panel
per (malicious, alpha): the mean over seeds per round, shaded between the lowest and highest seed.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

LAST = 3
"""Rounds averaged for the 'last 3' column (single final rounds swing with non-IID clients)."""


def _mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {std:.3f}"


def _final(run: dict) -> float:
    return run["accuracy"][-1]


def _last(run: dict) -> float:
    return statistics.mean(run["accuracy"][-LAST:])


def _groups(runs: list[dict]) -> dict[tuple, list[dict]]:
    """(malicious, alpha, strategy) -> its runs (one per seed)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in runs:
        groups[(r["malicious"], r["alpha"], r["strategy"])].append(r)
    return groups


def table(runs: list[dict]) -> list[str]:
    groups = _groups(runs)
    strategies = list(dict.fromkeys(r["strategy"] for r in runs))
    lines = [
        f"| alpha | strategy | final, honest | last {LAST} rounds, honest | final, 1 malicious | "
        f"last {LAST} rounds, 1 malicious | malicious − honest (last {LAST}) | s / run | seeds |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for alpha in sorted({r["alpha"] for r in runs}):
        for name in strategies:
            honest, bad = groups.get((False, alpha, name), []), groups.get((True, alpha, name), [])
            cells = []
            for rs in (honest, bad):
                cells += [_mean_std([_final(r) for r in rs]), _mean_std([_last(r) for r in rs])] if rs else ["", ""]
            drop = (
                f"{statistics.mean(_last(r) for r in bad) - statistics.mean(_last(r) for r in honest):+.3f}"
                if honest and bad
                else ""
            )
            seconds = statistics.mean(r["seconds"] for r in honest + bad)
            seeds = "/".join(str(len(rs)) for rs in (honest, bad))
            lines.append(
                f"| {alpha} | {name} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} | {drop} | {seconds:.0f} "
                f"| {seeds} |"
            )
    return lines


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = _groups(runs)
    panels = sorted({(k[0], k[1]) for k in groups})
    strategies = list(dict.fromkeys(r["strategy"] for r in runs))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False, sharey=True)
    for ax, (mal, alpha) in zip(axes[0], panels):
        for k, name in enumerate(strategies):
            rs = groups.get((mal, alpha, name))
            if not rs:
                continue
            per_round = list(zip(*(r["accuracy"] for r in rs)))
            x = range(len(per_round))
            style = "-" if name.startswith("merge") else "--"
            ax.plot(x, [statistics.mean(v) for v in per_round], style, color=f"C{k}", label=name)
            ax.fill_between(x, [min(v) for v in per_round], [max(v) for v in per_round], color=f"C{k}", alpha=0.12)
        ax.set_title(f"alpha {alpha}, {'1 of 8 malicious (x -10)' if mal else 'all honest'}", fontsize=9)
        ax.set_xlabel("round")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("global test accuracy")
    handles = {label: h for ax in axes[0] for h, label in zip(*ax.get_legend_handles_labels())}
    axes[0][0].legend(handles.values(), handles.keys(), fontsize=7)  # every strategy, some absent from panel 1
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def report(results: Path) -> None:
    data = json.loads(results.read_text())
    runs, args = data["runs"], data.get("args", {})
    seconds = sum(r["seconds"] for r in runs)
    lines = [
        f"Task `{args.get('task', '?')}`, {args.get('clients', '?')} clients, {args.get('rounds', '?')} rounds, "
        f"seeds {args.get('seeds', '?')}, {len(runs)} runs, {seconds / 3600:.1f} h of wall time. "
        f"Command: `{args.get('command', '?')}`",
        "",
        *table(runs),
    ]
    (results.parent / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(runs, results.parent / "accuracy.png")


if __name__ == "__main__":
    import sys

    report(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results" / "text" / "results.json")
