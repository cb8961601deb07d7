"""Tables (final accuracy, mean ± std over seeds) and a per-round accuracy plot from results.json."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path


def report(results: Path) -> None:
    data = json.loads(results.read_text())
    runs, args = data["runs"], data.get("args", {})
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in runs:
        groups[(r["malicious"], r["alpha"], r["strategy"])].append(r)
    lines = [
        f"Task `{args.get('task', '?')}`, {args.get('clients', '?')} clients, {args.get('rounds', '?')} rounds, "
        f"seeds {args.get('seeds', '?')}. Command: `{args.get('command', '?')}`",
        "",
        "| malicious | alpha | strategy | final accuracy (mean ± std over seeds) | seeds |",
        "|---|---:|---|---:|---:|",
    ]
    for (mal, alpha, name), rs in sorted(groups.items()):
        finals = [r["accuracy"][-1] for r in rs]
        std = statistics.stdev(finals) if len(finals) > 1 else 0.0
        lines.append(
            f"| {'1 of N, x-10' if mal else 'none'} | {alpha} | {name} | {statistics.mean(finals):.4f} ± {std:.4f} "
            f"| {len(finals)} |"
        )
    (results.parent / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = sorted({(k[0], k[1]) for k in groups})
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2), squeeze=False)
    for ax, (mal, alpha) in zip(axes[0], panels):
        for (m, a, name), rs in sorted(groups.items()):
            if (m, a) == (mal, alpha):
                mean = [statistics.mean(v) for v in zip(*(r["accuracy"] for r in rs))]
                ax.plot(range(len(mean)), mean, label=name)
        ax.set_title(f"alpha {alpha}{', 1 malicious' if mal else ''}")
        ax.set_xlabel("round")
        ax.set_ylabel("global accuracy")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(results.parent / "accuracy.png", dpi=120)


if __name__ == "__main__":
    import sys

    report(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results" / "text" / "results.json")
