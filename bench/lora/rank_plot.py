"""Plot of bench/lora/rank_vs_accuracy's result: test accuracy of base + extracted adapter against the rank.

.venv/bin/python -m bench.lora.rank_plot     # -> docs/lora-rank-accuracy.png
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULT = ROOT / "bench" / "lora" / "results" / "rank-vs-accuracy-fortune_files.json"


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads(RESULT.read_text())
    ref = data["reference"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for full, label in ((False, "LoRA modules only"), (True, "--full-modules")):
        rows = sorted((r for r in data["rows"] if r["full_modules"] == full), key=lambda r: r["rank"])
        ax.plot([r["rank"] for r in rows], [r["accuracy"] for r in rows], "o-", label=label)
    ax.axhline(ref["finetune"], color="green", ls="--", lw=1, label="fine-tune")
    ax.axhline(ref["base_with_finetuned_head"], color="grey", ls=":", lw=1, label="base + fine-tuned head")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("adapter rank (384 = full)")
    ax.set_ylabel(f"test accuracy ({data['test_examples']} examples)")
    ax.set_title(f"extract-lora on the {data['task']} fine-tune (all-MiniLM-L6-v2)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    out = ROOT / "docs" / "lora-rank-accuracy.png"
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
