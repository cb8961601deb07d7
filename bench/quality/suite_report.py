"""Markdown tables and plots of the ranking benchmark's results (docs/quality-suites.json).

.venv/bin/python -m bench.quality.suite_report        # -> docs/quality-suites.md, docs/quality-suites-*.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _ci(cell: dict, scale: float = 1.0, digits: int = 3) -> str:
    lo, hi = cell["ci95"]
    return f"{cell['mean'] * scale:.{digits}f} [{lo * scale:.{digits}f}, {hi * scale:.{digits}f}]"


def qualification_table(suite: dict, key: str = "candidates") -> str:
    lines = [
        "| task | classes | train | test (n) | frozen-base probe acc | fine-tune acc | gain (points) | kept |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, t in suite[key].items():
        kept = "yes" if t["qualifies"] else "**dropped**"
        lines.append(
            f"| {name} | {t['n_classes']} | {t['n_train']} | {t['n_test']} | {t['base_probe_acc']:.3f} | "
            f"{t['finetune_acc']:.3f} | {t['gain_points']:+.1f} | {kept} |"
        )
    return "\n".join(lines)


def _cost(r: dict) -> str:
    """Median over seeds of the chosen merge's wall seconds and peak RSS (+ Fisher calibration seconds)."""
    import statistics

    costs = [c for c in r.get("cost_per_seed", []) if c and "merge_seconds" in c]
    if not costs:
        return "-"
    seconds = statistics.median(c["merge_seconds"] for c in costs)
    text = f"{seconds:.1f} / {statistics.median(c['peak_rss_mb'] for c in costs):.0f}"
    calib = [c["calibration_seconds"] for c in costs if c.get("calibration_seconds")]
    return text + (f" (+{statistics.median(calib):.0f} s calibration)" if calib else "")


def merge_table(suite: dict) -> str:
    tasks = suite["settings"]["tasks"]
    head = ["model", "chosen (per seed)", "gain kept", "normalized", "mean acc", *tasks, "merge s / peak MB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    ref = suite["reference"]
    names = {
        "base_probe": "frozen base + probe heads",
        "base_ft_heads": "frozen base + fine-tuned heads (zero point)",
        "finetuned": "fine-tuned (one model per task)",
    }

    def row(label: str, chosen: str, r: dict) -> str:
        cells = [label, chosen, _ci(r["gain_kept"]), _ci(r["normalized"]), _ci(r["mean_accuracy"])]
        cells += [f"{r['accuracy'][t]['mean']:.3f}" for t in tasks]
        return "| " + " | ".join([*cells, _cost(r)]) + " |"

    lines.append(row(names["base_ft_heads"], "-", ref["base_ft_heads"]))
    lines.append(row(names["base_probe"], "-", ref["base_probe"]))
    order = sorted(suite["methods"], key=lambda m: suite["methods"][m]["gain_kept"]["mean"])
    for m in order:
        r = suite["methods"][m]
        chosen = "-" if r["param"] is None else f"{r['param']}=" + "/".join(str(v) for v in r["chosen_per_seed"])
        lines.append(row(m, chosen, r))
    lines.append(row(names["finetuned"], "-", ref["finetuned"]))
    return "\n".join(lines)


def significance(suite: dict, anchors: tuple[str, ...] = ("task_arithmetic", "ties")) -> str:
    """Pairs involving the best method or an anchor (every pair is in the JSON)."""
    best = max(suite["methods"], key=lambda m: suite["methods"][m]["gain_kept"]["mean"])
    keep = {best, *anchors}
    pairs = {k: v for k, v in suite["gain_kept_differences"].items() if set(k.split(" - ")) & keep}
    sig = [(k, v) for k, v in pairs.items() if v["significant"]]
    not_sig = [k for k, v in pairs.items() if not v["significant"]]
    out = [
        f"Gain-kept differences involving {', '.join(sorted(keep))} whose 95% interval excludes 0 (paired bootstrap):",
        "",
    ]
    out += [f"- {k}: {v['mean']:+.3f} [{v['ci95'][0]:+.3f}, {v['ci95'][1]:+.3f}]" for k, v in sig] or ["- none"]
    out += ["", f"Not significant: {', '.join(not_sig) or 'none'}."]
    return "\n".join(out)


def plots(name: str, suite: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    written = []
    methods = sorted(suite["methods"], key=lambda m: suite["methods"][m]["gain_kept"]["mean"])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for i, m in enumerate(methods):
        c = suite["methods"][m]["gain_kept"]
        ax.errorbar(i, c["mean"], yerr=[[c["mean"] - c["ci95"][0]], [c["ci95"][1] - c["mean"]]], fmt="o", capsize=3)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axhline(1, color="grey", lw=0.8, ls="--")
    ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right")
    ax.set_ylabel("gain kept (95% CI)")
    ax.set_title(f"{name} suite: gain kept per method ({len(suite['seeds'])} seed(s))")
    fig.tight_layout()
    path = out / f"quality-{name}-gain-kept.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    tasks = suite["settings"]["tasks"]
    rows = ["base_probe", "base_ft_heads", *methods, "finetuned"]
    cells = {r: (suite["reference"].get(r) or suite["methods"][r])["accuracy"] for r in rows}
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(tasks)), 4))
    width = 0.8 / len(rows)
    for k, r in enumerate(rows):
        x = np.arange(len(tasks)) + k * width
        mean = [cells[r][t]["mean"] for t in tasks]
        err = [
            [cells[r][t]["mean"] - cells[r][t]["ci95"][0] for t in tasks],
            [cells[r][t]["ci95"][1] - cells[r][t]["mean"] for t in tasks],
        ]
        ax.bar(x, mean, width, yerr=err, label=r, capsize=1)
    ax.set_xticks(np.arange(len(tasks)) + 0.4 - width / 2, tasks, rotation=15)
    ax.set_ylabel("test accuracy (95% CI)")
    ax.legend(fontsize=6, ncol=3)
    fig.tight_layout()
    path = out / f"quality-{name}-tasks.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "quality-suites.json")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    results = json.loads(args.results.read_text())
    parts = []
    for name, qual in results.get("qualification", {}).items():
        parts.append(f"### {name}: candidate tasks (seeds {qual['seeds']})\n\n" + qualification_table(qual))
    for name, suite in results["suites"].items():
        parts.append(f"### {name}\n\nSeeds: {suite['seeds']}.\n\n" + qualification_table(suite))
        if "methods" in suite:
            parts.append(merge_table(suite))
            parts.append(significance(suite))
            plots(name, suite, args.out)
    (args.out / "quality-suites.md").write_text("\n\n".join(parts) + "\n")
    print("\n\n".join(parts))


if __name__ == "__main__":
    main()
