"""modelfusion vs mergekit 0.1.5 on identical recipes: time, peak RSS, agreement, copy floors, scaling.

    .venv/bin/python bench/speed/run.py            # everything (about an hour on 2 shared cores)
    .venv/bin/python bench/speed/run.py --only startup,linear --runs 3
    .venv/bin/python bench/speed/run.py --quick    # linear vs mergekit and both floors, 3 rounds (a few minutes)
    .venv/bin/python bench/speed/run.py --quick --set tiny --runs 1   # smoke run of the harness (seconds)

Floors (timed in the same rounds as the tools, linear only): the copy floor (copy_floor.py: read every input
tensor, write the output with safetensors, no fsync) and the durable copy floor (durable_floor.py: the same reads,
the output written into a staging folder, fsync'd, renamed into place, as modelfusion publishes its output).

Inputs are generated once under bench/.cache/speed/ (make_inputs.py). Runs alternate A B A B and medians are
quoted. Results go to docs/performance.json (updated after every section) and docs/performance.md + plot
(report.py); `--out` writes them elsewhere (the .md next to the .json), and `--quick` defaults to
bench/out/performance-quick.json (git-ignored) so that a short run does not replace the published figures.
mergekit runs from its own venv on the CPU with its defaults, HF_HUB_OFFLINE=1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from agree import compare  # noqa: E402
from make_inputs import CACHE, make_set, shape_of  # noqa: E402
from measure import Run, median, timed  # noqa: E402
from recipes import RANDOM, recipe  # noqa: E402

MF = ROOT / ".venv" / "bin" / "modelfusion"
PY = ROOT / ".venv" / "bin" / "python"
MK = ROOT / ".peers" / "mergekit" / "bin" / "mergekit-yaml"
MK_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
WORK = CACHE / "out"
RESULT = ROOT / "docs" / "performance.json"
QUICK = ROOT / "bench" / "out" / "performance-quick.json"


def save(results: dict, path: Path = RESULT) -> None:
    path.write_text(json.dumps(results, indent=2) + "\n")


def write_recipe(method: str, set_name: str) -> Path:
    path = WORK / f"{set_name}-{method}.yaml"
    path.write_text(recipe(method, make_set(set_name)))
    return path


def mergekit(rec: Path, out: Path, timeout: float = 3600) -> Run:
    return timed([str(MK), str(rec), str(out)], env=MK_ENV, clear=out, timeout=timeout, log=out.with_suffix(".log"))


def modelfusion(rec: Path, out: Path, threads: int | None = None, timeout: float = 3600) -> Run:
    cmd = [str(MF), "merge", str(rec), str(out), "--quiet"] + (["--threads", str(threads)] if threads else [])
    return timed(cmd, clear=out, timeout=timeout, log=out.with_suffix(".log"))


def copy_floor(set_name: str) -> Run:
    out = WORK / "floor.safetensors"
    run = timed([str(PY), str(HERE / "copy_floor.py"), str(out), *map(str, make_set(set_name))])
    out.unlink(missing_ok=True)
    return run


def durable_floor(set_name: str, raw: bool = False) -> tuple[Run, dict]:
    """durable_floor.py: the run and the seconds of its phases (import, read + write, fsync, rename)."""
    out, stats = WORK / "floor-durable", WORK / "floor-durable.json"
    cmd = [str(PY), str(HERE / "durable_floor.py"), "--stats", str(stats), *(["--raw"] if raw else [])]
    run = timed([*cmd, str(out), *map(str, make_set(set_name))], clear=out)
    phases = json.loads(stats.read_text())
    shutil.rmtree(out, ignore_errors=True)
    return run, phases


def summary(runs: list[Run]) -> dict:
    return {
        "wall_s": median([r.wall_s for r in runs]),
        "cpu_s": median([r.cpu_s for r in runs]),
        "rss_mb": max(r.rss_mb for r in runs),
        "runs": [r.as_dict() for r in runs],
    }


def phase_summary(phases: list[dict]) -> dict:
    """Medians of durable_floor.py's own phase timings, and what it read and wrote."""
    keys = [k for k in phases[0] if k.endswith("_s")]
    return {
        "mode": phases[0]["mode"],
        "bytes_read": phases[0]["bytes_read"],
        "bytes_written": phases[0]["bytes_written"],
        "phases_s": {k: median([p[k] for p in phases]) for k in keys},
    }


def bench_startup(n: int) -> dict:
    cmds = {
        "modelfusion --help": [str(MF), "--help"],
        "modelfusion methods": [str(MF), "methods"],
        "mergekit-yaml --help": [str(MK), "--help"],
    }
    runs: dict[str, list[Run]] = {k: [] for k in cmds}
    for _ in range(n):
        for k, cmd in cmds.items():
            runs[k].append(timed(cmd, env=MK_ENV))
    return {k: summary(v) for k, v in runs.items()}


def bench_method(method: str, set_name: str, n: int, floor: bool, mk: bool = True, raw_floor: bool = False) -> dict:
    """A B (C D) A B (C D) ...: mergekit, modelfusion (and the copy floor, the durable copy floor), n rounds; then
    agreement. With `raw_floor` the rounds also run the durable floor in plain bytes, without torch."""
    rec = write_recipe(method, set_name)
    out_mk, out_mf = WORK / f"{set_name}-{method}-mk", WORK / f"{set_name}-{method}-mf"
    runs: dict[str, list[Run]] = {
        "mergekit": [],
        "modelfusion": [],
        "copy_floor": [],
        "durable_floor": [],
        "durable_floor_raw": [],
    }
    phases: dict[str, list[dict]] = {"durable_floor": [], "durable_floor_raw": []}
    for _ in range(n):
        if mk:
            runs["mergekit"].append(mergekit(rec, out_mk))
        runs["modelfusion"].append(modelfusion(rec, out_mf))
        if floor:
            runs["copy_floor"].append(copy_floor(set_name))
            for key, raw in (("durable_floor", False), ("durable_floor_raw", True)):
                if raw and not raw_floor:
                    continue
                run, phase = durable_floor(set_name, raw=raw)
                runs[key].append(run)
                phases[key].append(phase)
    result = {k: summary(v) for k, v in runs.items() if v}
    for key, p in phases.items():
        if p:
            result[key] |= phase_summary(p)
    if mk:
        base = make_set(set_name)[0] if method in RANDOM else None
        result["agreement"] = compare(out_mf, out_mk, base)
        result["agreement"]["random"] = method in RANDOM
        result["ratio_wall"] = result["mergekit"]["wall_s"] / result["modelfusion"]["wall_s"]
        result["ratio_cpu"] = result["mergekit"]["cpu_s"] / result["modelfusion"]["cpu_s"]
        result["rss_fraction"] = result["modelfusion"]["rss_mb"] / result["mergekit"]["rss_mb"]
    if floor:
        for prefix, key in (("", "copy_floor"), ("durable_", "durable_floor"), ("durable_raw_", "durable_floor_raw")):
            if key in result:
                for tool in ("modelfusion", "mergekit"):
                    if tool not in result:
                        continue
                    name = f"{prefix}floor_ratio" if tool == "modelfusion" else f"mergekit_{prefix}floor_ratio"
                    result[f"{name}_wall"] = result[tool]["wall_s"] / result[key]["wall_s"]
                    result[f"{name}_cpu"] = result[tool]["cpu_s"] / result[key]["cpu_s"]
        result["durability_s"] = result["durable_floor"]["wall_s"] - result["copy_floor"]["wall_s"]
    result["set"] = set_name
    result["recipe"] = rec.read_text()
    return result


def bench_threads(method: str, set_name: str, n: int) -> dict:
    """1 vs 2 threads, alternated; plus the serial start-up (import, recipe, plan: a --dry-run), so the speed-up of
    the part that threads can share is shown next to the wall-clock one."""
    rec = write_recipe(method, set_name)
    runs: dict[str, list[Run]] = {"1": [], "2": [], "dry_run": [], "pair_of_1": []}
    for _ in range(n):
        for t in ("1", "2"):
            runs[t].append(modelfusion(rec, WORK / f"{set_name}-{method}-t{t}", threads=int(t)))
        runs["dry_run"].append(timed([str(MF), "merge", str(rec), str(WORK / "dry"), "--dry-run"]))
        # The machine's own ceiling: two independent 1-thread merges at once (no shared process, no GIL).
        with ThreadPoolExecutor(2) as pool:
            pair = list(pool.map(lambda i: modelfusion(rec, WORK / f"{set_name}-{method}-p{i}", threads=1), (0, 1)))
        runs["pair_of_1"].append(max(pair, key=lambda r: r.wall_s))
    same = (WORK / f"{set_name}-{method}-t1" / "model.safetensors").read_bytes() == (
        WORK / f"{set_name}-{method}-t2" / "model.safetensors"
    ).read_bytes()
    result = {t: summary(v) for t, v in runs.items()}
    serial = result["dry_run"]["wall_s"]
    result["speedup_wall"] = result["1"]["wall_s"] / result["2"]["wall_s"]
    result["speedup_after_startup"] = (result["1"]["wall_s"] - serial) / (result["2"]["wall_s"] - serial)
    result["pair_throughput"] = 2 * result["1"]["wall_s"] / result["pair_of_1"]["wall_s"]
    result["bit_identical"] = same
    result["set"] = set_name
    return result


def bench_tensor_counts(counts: list[int], mk_limit: int, timeout: float, earlier: dict | None = None) -> dict:
    """Linear merges of tiny-hidden models with many tensors: wall time per tensor for both tools. Counts above
    `mk_limit` keep mergekit's result from an `earlier` run of this section, marked as such."""
    before = {p["tensors"]: p.get("mergekit") for p in (earlier or {}).get("points", [])}
    points = []
    for n in counts:
        name = f"n{n}"
        rec = write_recipe("linear", name)
        point = {"tensors": shape_of(name).tensor_count}
        point["modelfusion"] = modelfusion(rec, WORK / f"{name}-mf", timeout=timeout).as_dict()
        if n <= mk_limit:
            try:
                point["mergekit"] = mergekit(rec, WORK / f"{name}-mk", timeout=timeout).as_dict()
            except subprocess.TimeoutExpired:  # a timeout is a result too: more than `timeout` seconds
                point["mergekit"] = {"timed_out_after_s": timeout}
            except Exception as e:
                point["mergekit"] = {"error": str(e)[:200]}
        elif before.get(point["tensors"]):
            point["mergekit"] = {**before[point["tensors"]], "from_earlier_run": True}
        points.append(point)
    return {"points": points}


SECTIONS = ("startup", "linear", "slerp", "ties", "dare_ties", "della", "threads", "tensors", "1b")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections: " + ",".join(SECTIONS))
    ap.add_argument("--runs", type=int, default=3, help="rounds for linear, slerp and start-up")
    ap.add_argument("--sparse-runs", type=int, default=1, help="rounds for ties / dare_ties / della")
    ap.add_argument("--counts", default="300,1000,3000,10000,20000")
    ap.add_argument("--mk-count-limit", type=int, default=20000, help="largest tensor count run through mergekit")
    ap.add_argument("--mk-1b", action="store_true", help="also run mergekit on the 1B set (slow)")
    ap.add_argument("--methods-1b", default="linear,ties", help="methods run on the 1B set")
    ap.add_argument("--threads-set", default="250m", choices=("250m", "1b"), help="input set of the threads section")
    ap.add_argument(
        "--set", default="250m", choices=("250m", "1b", "tiny"), help="input set of the method sections (tiny: smoke)"
    )
    ap.add_argument("--raw-floor", action="store_true", help="also time the durable floor in plain bytes (no torch)")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="short side-by-side: --only linear --runs 3 (unless given), results to " + str(QUICK.relative_to(ROOT)),
    )
    default_out = RESULT.relative_to(ROOT)
    ap.add_argument("--out", type=Path, help=f"results JSON (default {default_out}); the .md goes next to it")
    args = ap.parse_args()
    given = set(sys.argv[1:])
    if args.quick:
        if not any(a.startswith("--only") for a in given):
            args.only = "linear"
        if not any(a.startswith("--runs") for a in given):
            args.runs = 3
    out_json = args.out or (QUICK if args.quick else RESULT)
    if args.set == "tiny" and out_json.resolve() == RESULT.resolve():
        raise SystemExit("--set tiny is a smoke run: pass --quick or --out, not the published results")
    out_json.parent.mkdir(parents=True, exist_ok=True)
    WORK.mkdir(parents=True, exist_ok=True)
    results = json.loads(out_json.read_text()) if out_json.is_file() else {}
    results["machine"] = {"cpus": os.cpu_count(), "load_at_start": os.getloadavg()[0], "python": sys.version.split()[0]}
    command = "python bench/speed/run.py " + " ".join(sys.argv[1:])
    results["commands"] = [*results.get("commands", [results["command"]] if "command" in results else []), command]
    results.pop("command", None)
    for section in args.only.split(","):
        t0 = time.time()
        if section == "startup":
            results["startup"] = bench_startup(max(args.runs, 5))
        elif section in ("linear", "slerp", "ties", "dare_ties", "della"):
            n = args.runs if section in ("linear", "slerp") else args.sparse_runs
            results.setdefault("methods", {})[section] = bench_method(
                section, args.set, n, floor=section == "linear", raw_floor=args.raw_floor
            )
        elif section == "threads":
            results["threads"] = bench_threads("ties", args.threads_set, args.sparse_runs)
        elif section == "tensors":
            counts = [int(c) for c in args.counts.split(",")]
            results["tensors"] = bench_tensor_counts(counts, args.mk_count_limit, 1800, results.get("tensors"))
        elif section == "1b":
            results["1b"] = results.get("1b", {}) | {
                m: bench_method(m, "1b", 1, floor=m == "linear", mk=args.mk_1b, raw_floor=args.raw_floor)
                for m in args.methods_1b.split(",")
            }
        else:
            raise SystemExit(f"unknown section {section}")
        results.setdefault("section_seconds", {})[section] = round(time.time() - t0, 1)
        results["load_at_end"] = os.getloadavg()[0]
        save(results, out_json)
        print(f"{section}: done in {time.time() - t0:.0f} s", flush=True)
    from report import write_report

    if out_json.resolve() == RESULT.resolve():
        write_report(results)
    else:
        write_report(results, doc=out_json.with_suffix(".md"), plot=out_json.with_name(out_json.stem + "_tensors.png"))
    print(f"results: {out_json}", flush=True)


if __name__ == "__main__":
    main()
