"""Render docs/performance.md and docs/performance_tensors.png from docs/performance.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "performance.md"
PLOT = ROOT / "docs" / "performance_tensors.png"


def _f(x: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def method_table(methods: dict) -> list[str]:
    lines = [
        "| method | mergekit s | modelfusion s | ratio (wall) | ratio (CPU) | mergekit peak RSS | modelfusion peak RSS "
        "| agreement |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in methods.items():
        mk, mf = r.get("mergekit"), r["modelfusion"]
        a = r.get("agreement", {})
        if not a:
            agree = "-"
        elif a.get("random"):
            agree = f"random masks: shift ratio {a.get('mean_shift_ratio', float('nan')):.3f}"
        else:
            agree = f"max {a['max_abs_diff']:.2g}, {100 * a['frac_beyond_bf16_step']:.4f}% > 1 bf16 step"
        lines.append(
            f"| {name} | {_f(mk and mk['wall_s'])} | {mf['wall_s']:.1f} | {_f(r.get('ratio_wall'), '{:.2f}x')} "
            f"| {_f(r.get('ratio_cpu'), '{:.2f}x')} | {_f(mk and mk['rss_mb'], '{:.0f} MiB')} "
            f"| {mf['rss_mb']:.0f} MiB | {agree} |"
        )
    return lines


FLOORS = {
    "copy_floor": "floor (copy)",
    "durable_floor": "floor (durable copy)",
    "durable_floor_raw": "floor (durable, raw bytes)",
}
FLOOR_PREFIX = {"copy_floor": "", "durable_floor": "durable_", "durable_floor_raw": "durable_raw_"}


def floor_lines(lin: dict, label: str) -> list[str]:
    """linear against the floors of one set: a table (wall, CPU, peak RSS) and the durable floor's phases."""
    floors = [k for k in FLOORS if k in lin] or ["copy_floor"]
    if "durable_floor" not in floors:
        floors.insert(1, "durable_floor")  # an older result: the column stays, empty
    tools = [k for k in ("modelfusion", "mergekit") if k in lin]
    head = [FLOORS[k] for k in floors] + tools + [f"modelfusion ÷ {FLOORS[k]}" for k in floors]
    lines = [f"| linear, {label} | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for what, key, fmt in (("wall s", "wall_s", "{:.2f}"), ("CPU s", "cpu_s", "{:.2f}"), ("peak RSS", "rss_mb", None)):
        cells = []
        for k in floors + tools:
            v = lin.get(k, {}).get(key)
            cells.append(_f(v, "{:.0f} MiB") if fmt is None else _f(v, fmt))
        for k in floors:
            ratio = lin.get(f"{FLOOR_PREFIX[k]}floor_ratio_{key.removesuffix('_s')}") if fmt else None
            cells.append(_f(ratio, "**{:.2f}x**" if k == "durable_floor" and key == "wall_s" else "{:.2f}x"))
        lines.append(f"| {what} | " + " | ".join(cells) + " |")
    lines.append("")
    for k in floors:
        ph = lin.get(k, {}).get("phases_s")
        if ph:
            lines.append(
                f"{FLOORS[k][0].upper() + FLOORS[k][1:]}, its own clock (medians): imports {ph['import_s']:.2f} s, "
                f"read every input and write the output {ph['read_write_s']:.2f} s, fsync (file and folder) "
                f"{ph['fsync_s']:.2f} s, rename into place {ph['rename_s']:.3f} s; "
                f"{lin[k]['bytes_read'] / 1e6:.0f} MB read, {lin[k]['bytes_written'] / 1e6:.0f} MB written."
            )
    if "durability_s" in lin:
        lines.append(
            f"Durable copy floor minus copy floor: {lin['durability_s']:+.2f} s wall (what writing into a staging "
            "folder, fsync and rename cost a program that does no math)."
        )
    return [*lines, ""]


FLOOR_TEXT = (
    "Floors, timed in the same alternating rounds as the tools (`bench/speed/copy_floor.py`, "
    "`bench/speed/durable_floor.py`): the **copy floor** reads every input tensor once (safetensors `get_tensor`) "
    "and writes the output with safetensors, no math and no fsync; the **durable copy floor** does the same reads "
    "and writes the output's bytes into a staging folder (streamed, write-behind every 16 MiB), fsyncs the file "
    "and the folder, renames it into place and fsyncs the parent, as `modelfusion merge` publishes its output (an "
    "output that looks complete is complete). The durable floor is the fair floor for modelfusion, which fsyncs; "
    "mergekit does not."
)


def plot_tensors(points: list[dict], plot: Path = PLOT) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for tool in ("mergekit", "modelfusion"):
        xs = [p["tensors"] for p in points if "wall_s" in p.get(tool, {})]
        ys = [1000 * p[tool]["wall_s"] / p["tensors"] for p in points if "wall_s" in p.get(tool, {})]
        if xs:
            line = ax.plot(xs, ys, marker="o", label=tool)[0]
            cut = [
                (p["tensors"], p[tool]["timed_out_after_s"]) for p in points if "timed_out_after_s" in p.get(tool, {})
            ]
            for n, limit in cut:  # a lower bound: the run was stopped at its time limit
                ax.plot([n], [1000 * limit / n], marker="^", color=line.get_color(), linestyle="none")
                ax.annotate(f"> {limit:.0f} s (timed out)", (n, 1000 * limit / n), fontsize=8, ha="right", va="bottom")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tensors per checkpoint (3 checkpoints, linear merge)")
    ax.set_ylabel("wall time per output tensor (ms)")
    ax.set_title("Per-tensor overhead")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(plot, dpi=120)


def write_report(r: dict, doc: Path = DOC, plot: Path = PLOT) -> None:
    out = ["# Performance: modelfusion vs mergekit 0.1.5", ""]
    out += [
        "Measured by "
        + ", then ".join(f"`{c}`" for c in r.get("commands", [r.get("command", "")]))
        + " on a shared machine "
        f"({r['machine']['cpus']} cores; load average {r['machine']['load_at_start']:.1f} at the start, "
        f"{r.get('load_at_end', 0):.1f} at the end: other jobs were running, so wall times are noisy; runs "
        "alternate between the tools and medians are quoted; CPU = user + system seconds, steadier than wall). "
        f"Raw numbers: [{doc.with_suffix('.json').name}]({doc.with_suffix('.json').name}).",
        "",
    ]
    if r.get("methods", {}).get("linear", {}).get("set", "250m") == "tiny":
        out += [
            "**Smoke run** on the `tiny` set (3.7M parameters, 7.4 MB per checkpoint): the times are start-up "
            "(imports) and say nothing about merge speed.",
            "",
        ]
    out += [
        "Inputs (generated by `bench/speed/make_inputs.py`): three Llama-shaped bf16 checkpoints of 245M "
        "parameters (hidden 1024, 14 layers, vocab 32000, 129 tensors, 0.49 GB each): a base and two fine-tunes "
        "(base + 0.002 N(0,1)). Both tools run the same recipe text (`dtype: float32`, `out_dtype: bfloat16`); "
        "peak RSS is `/usr/bin/time -v`'s maximum resident set size.",
        "",
    ]
    if "methods" in r:
        lin = r["methods"].get("linear", {})
        label = lin.get("set", "250m").upper()
        out += [f"## Merge methods ({label})", "", *method_table(r["methods"]), ""]
        if "copy_floor" in lin:
            out += [FLOOR_TEXT, "", *floor_lines(lin, label)]
    if "1b" in r:
        out += ["## Memory is bounded by the job, not the model (0.95B parameters, 1.9 GB per checkpoint)", ""]
        out += ["mergekit ran only where its columns are filled (each of its runs takes minutes here).", ""]
        out += [*method_table(r["1b"]), ""]
        lin = r["1b"].get("linear", {})
        if "copy_floor" in lin:
            out += [
                "Floors on this set (the copy floor's peak RSS: safetensors holds the whole output)"
                + ("." if "mergekit" in lin else "; mergekit was not run on this set (time)."),
                "",
                *floor_lines(lin, "1B"),
            ]
    if "tensors" in r:
        out += [
            "## Per-tensor overhead",
            "",
            "Linear merges of three tiny-hidden Llamas (hidden 32) with more and more layers. Marginal = extra "
            "milliseconds per extra tensor since the previous row (start-up excluded).",
            "",
            "| tensors | mergekit s | ms / tensor | marginal ms | modelfusion s | ms / tensor | marginal ms |",
            "|---|---|---|---|---|---|---|",
        ]
        prev: dict = {}
        for p in r["tensors"]["points"]:
            cells = [str(p["tensors"])]
            for tool in ("mergekit", "modelfusion"):
                wall = p.get(tool, {}).get("wall_s")
                last = prev.get(tool)
                marginal = 1000 * (wall - last[1]) / (p["tensors"] - last[0]) if wall and last else None
                limit = p.get(tool, {}).get("timed_out_after_s")
                if limit:  # stopped at the time limit: only lower bounds
                    earlier = " in an earlier run" if p[tool].get("from_earlier_run") else ""
                    cells += [f"> {limit:.0f} (timed out{earlier})", f"> {1000 * limit / p['tensors']:.1f}", "-"]
                    continue
                cells += [_f(wall), _f(wall and 1000 * wall / p["tensors"]), _f(marginal, "{:.2f}")]
                if wall:
                    prev[tool] = (p["tensors"], wall)
            out.append("| " + " | ".join(cells) + " |")
        out += ["", f"![per-tensor overhead]({plot.name})", ""]
        plot_tensors(r["tensors"]["points"], plot)
    if "threads" in r:
        t = r["threads"]
        out += [
            f"## Threads (ties, {t.get('set', '250m').upper()})",
            "",
            f"1 thread {t['1']['wall_s']:.1f} s, 2 threads {t['2']['wall_s']:.1f} s: speed-up "
            f"**{t['speedup_wall']:.2f}x**; outputs bit-identical: {t['bit_identical']}.",
        ]
        if "dry_run" in t:
            out += [
                f"The serial start-up (import, recipe, plan: `merge --dry-run`) takes {t['dry_run']['wall_s']:.1f} s; "
                f"past it, 2 threads run {t['speedup_after_startup']:.2f}x faster than 1.",
            ]
        if "pair_of_1" in t:
            out += [
                f"The machine's own ceiling: two independent 1-thread merges started together took "
                f"{t['pair_of_1']['wall_s']:.1f} s (the slower of the two), so two cores gave "
                f"{t['pair_throughput']:.2f}x the throughput of one.",
            ]
        out.append("")
    if "startup" in r:
        out += ["## Start-up", "", "| command | wall s (median) | CPU s |", "|---|---|---|"]
        for k, v in r["startup"].items():
            out.append(f"| `{k}` | {v['wall_s']:.2f} | {v['cpu_s']:.2f} |")
        out.append("")
    extra = DOC.with_name("performance_notes.md")
    if doc == DOC and extra.is_file():  # the published page only; a quick or smoke run's page is the tables
        out += [extra.read_text()]
    doc.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "performance.json"
    if source.resolve() == (ROOT / "docs" / "performance.json").resolve():
        write_report(json.loads(source.read_text()))
    else:  # e.g. bench/out/performance-quick.json: the page goes next to it
        write_report(
            json.loads(source.read_text()),
            doc=source.with_suffix(".md"),
            plot=source.with_name(source.stem + "_tensors.png"),
        )
