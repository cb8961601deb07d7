"""Agreement with FusionBench 0.2.33 on tiny models: TSV-M, Iso-C, Iso-CTS, RegMean, Fisher merging.

FusionBench runs in its own venv (`make peers` puts it in .peers/fusionbench) as a subprocess on a work folder
(fusionbench_driver.py); modelfusion runs the same merges through its normal paths: `merge_state_dicts` for the
SVD family, `calibrate` + a recipe with `statistics:` through `modelfusion.merge` for RegMean and Fisher.

    .venv/bin/python -m tests.parity.fusionbench_harness [WORK]      # prints the table
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from tests.parity.fusionbench_driver import IN, Net

REPO = Path(__file__).resolve().parents[2]
PYTHON = Path(os.environ.get("MODELFUSION_FUSIONBENCH_PYTHON", REPO / ".peers" / "fusionbench" / "bin" / "python"))
DRIVER = Path(__file__).with_name("fusionbench_driver.py")
TASKS = 3
FLOOR = 1e-6

CASES: dict[str, dict] = {
    "tsv": {"method": "tsv", "alpha": 1.0},
    "tsv_alpha": {"method": "tsv", "alpha": 0.6},
    "iso_c": {"method": "iso_c", "alpha": 1.0},
    "iso_c_alpha": {"method": "iso_c", "alpha": 1.3},
    "iso_cts": {"method": "iso_cts", "alpha": 1.0, "common_space_fraction": 0.8},
    "iso_cts_half": {"method": "iso_cts", "alpha": 1.0, "common_space_fraction": 0.5},
    "regmean": {"method": "regmean", "alpha": 0.9},
    "regmean_exact": {"method": "regmean", "alpha": 1.0},
    "fisher_normalized": {"method": "fisher", "coefficients": [1 / TASKS] * TASKS, "normalize": True, "floor": FLOOR},
    "fisher_weighted": {"method": "fisher", "coefficients": [0.2, 0.5, 0.3], "normalize": False, "floor": FLOOR},
}


def build(work: Path) -> None:
    """base (seed 0), m1..m3 = base + 5% noise, two batches of 8 inputs per task (shifted clusters), and a Fisher
    diagonal per task (positive, of different scales: the normalisation matters)."""
    work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    base = Net().state_dict()
    save_file(base, str(work / "base.safetensors"))
    for i in range(1, TASKS + 1):
        g = torch.Generator().manual_seed(i)
        ft = {n: t + 0.05 * float(t.std()) * torch.randn(t.shape, generator=g) for n, t in base.items()}
        save_file(ft, str(work / f"m{i}.safetensors"))
        shift = 1.5 * torch.randn(1, IN, generator=g)
        save_file(
            {f"b{j}": torch.randn(8, IN, generator=g) + shift for j in range(2)}, str(work / f"data_{i}.safetensors")
        )
        fisher = {n: (torch.rand(t.shape, generator=g) ** 2) * (10.0**i) for n, t in base.items()}
        save_file(fisher, str(work / f"fisher_{i}.safetensors"))
    cases = {name: {**case, "models": TASKS} for name, case in CASES.items()}
    (work / "cases.json").write_text(json.dumps(cases, indent=1))


def run_fusionbench(work: Path) -> float:
    """Seconds FusionBench took (one process, every case)."""
    start = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": "", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [str(PYTHON), str(DRIVER), str(work)], cwd=work, env=env, capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(f"FusionBench driver failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def _folder(work: Path, name: str) -> Path:
    folder = work / "mf" / name
    folder.mkdir(parents=True, exist_ok=True)
    save_file(load_file(str(work / f"{name}.safetensors")), str(folder / "model.safetensors"))
    return folder


def _fisher_weights(work: Path, case: dict) -> list[float]:
    """FusionBench's per-model factor, as a modelfusion `weight`: c_i, times (1 / (||F_i|| + floor)) normalised
    to sum 1 when normalize (||F_i|| the L2 norm of model i's whole Fisher)."""
    coefficients = [float(c) for c in case["coefficients"]]
    if not case["normalize"]:
        return coefficients
    norms = []
    for i in range(1, TASKS + 1):
        fisher = load_file(str(work / f"fisher_{i}.safetensors"))
        norms.append(float(torch.cat([t.flatten() for t in fisher.values()]).norm()))
    inverse = [1.0 / (n + case["floor"]) for n in norms]
    return [c * v / sum(inverse) for c, v in zip(coefficients, inverse)]


def run_modelfusion(work: Path, name: str, case: dict) -> dict[str, torch.Tensor]:
    import modelfusion
    from modelfusion.calibrate import calibrate

    models = [load_file(str(work / f"m{i}.safetensors")) for i in range(1, TASKS + 1)]
    method = case["method"]
    if method in ("tsv", "iso_c", "iso_cts"):
        params = {k: v for k, v in case.items() if k in ("alpha", "common_space_fraction")}
        base = load_file(str(work / "base.safetensors"))
        return modelfusion.merge_state_dicts(models, method, base=base, **params)
    folders = [_folder(work, f"m{i}") for i in range(1, TASKS + 1)]
    entries = []
    for i, folder in enumerate(folders, start=1):
        stats = work / "mf" / f"{name}_m{i}.stats.safetensors"
        if method == "regmean":
            net = Net()
            net.load_state_dict(models[i - 1])
            data = load_file(str(work / f"data_{i}.safetensors"))
            calibrate(net, [{"x": data[b]} for b in sorted(data)], stats, stats=["gram"])
        else:
            fisher = load_file(str(work / f"fisher_{i}.safetensors"))
            save_file({f"fisher:{n}": t for n, t in fisher.items()}, str(stats))
        entries.append({"model": str(folder), "statistics": str(stats)})
    if method == "regmean":
        recipe = {"merge_method": "regmean", "models": entries, "parameters": {"alpha": case["alpha"]}}
    else:
        for entry, w in zip(entries, _fisher_weights(work, case)):
            entry["parameters"] = {"weight": w}
        recipe = {"merge_method": "fisher", "models": entries, "parameters": {"fisher_floor": case["floor"]}}
    out = work / "mf" / f"out_{name}"
    modelfusion.merge(recipe, out, overwrite=True)
    return load_file(str(out / "model.safetensors"))


def compare(work: Path) -> dict[str, dict[str, float]]:
    """Per case: the largest |modelfusion - FusionBench| over every tensor, and the largest |entry|."""
    rows = {}
    for name, case in CASES.items():
        ours = run_modelfusion(work, name, case)
        theirs = load_file(str(work / f"out_{name}.safetensors"))
        if set(ours) != set(theirs):
            raise AssertionError(f"{name}: tensor names differ: {sorted(set(ours) ^ set(theirs))}")
        diff = max(float((ours[n].double() - theirs[n].double()).abs().max()) for n in ours)
        scale = max(float(t.abs().max()) for t in theirs.values())
        rows[name] = {"method": case["method"], "max_abs_diff": diff, "max_abs_value": scale}
    return rows


def main(argv: list[str]) -> None:
    work = Path(argv[0]) if argv else Path(tempfile.mkdtemp(prefix="fusionbench-parity-"))
    build(work)
    seconds = run_fusionbench(work)
    rows = compare(work)
    print("| case | method | max abs diff vs FusionBench 0.2.33 | max abs value |")
    print("|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['method']} | {row['max_abs_diff']:.1e} | {row['max_abs_value']:.2f} |")
    print(f"FusionBench (all cases, one process incl. start-up): {seconds:.1f} s; work folder {work}")


if __name__ == "__main__":
    main(sys.argv[1:])
