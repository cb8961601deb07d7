"""The same measurements on a GPU machine, in under 5 minutes: `--device cuda` vs `--device cpu` (and mergekit
with --cuda when its venv is there), on the 250M set, linear and ties. UNTESTED ON A GPU (written on a machine
without one); run it whenever a GPU machine is at hand:

    .venv/bin/python bench/speed/gpu.py          # writes docs/performance_gpu.json

Needs `make setup` on that machine (PyPI's torch==2.13.0 wheel for Linux is the CUDA build) and, for the
mergekit column, `make peers`. Each command runs once, inside a 280 s budget (later ones are skipped).
Outputs are compared like run.py does: GPU and CPU results may differ by float rounding (kernels differ), so
agreement is quoted as max |diff| and the share beyond one bf16 step.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from agree import compare  # noqa: E402
from measure import timed  # noqa: E402
from run import MF, MK, MK_ENV, ROOT, WORK, write_recipe  # noqa: E402

BUDGET_S = 280


def main() -> None:
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: gpu.py measures --device cuda")
    WORK.mkdir(parents=True, exist_ok=True)
    start = time.time()
    result: dict = {"device": torch.cuda.get_device_name(0), "methods": {}}
    for method in ("linear", "ties"):
        rec = write_recipe(method, "250m")  # generates the inputs on first use (about a minute)
        runs = {}
        for label, cmd in {
            "modelfusion cuda": [
                str(MF),
                "merge",
                str(rec),
                str(WORK / f"gpu-{method}-cuda"),
                "-q",
                "--device",
                "cuda",
            ],
            "modelfusion cpu": [str(MF), "merge", str(rec), str(WORK / f"gpu-{method}-cpu"), "-q"],
            "mergekit cuda": [str(MK), str(rec), str(WORK / f"gpu-{method}-mk"), "--cuda"],
        }.items():
            if label.startswith("mergekit") and not MK.exists():
                continue
            if time.time() - start > BUDGET_S:
                runs[label] = {"skipped": "time budget"}
                continue
            out = Path(cmd[3] if label.startswith("modelfusion") else cmd[2])
            env = MK_ENV if label.startswith("mergekit") else None
            runs[label] = timed(cmd, env=env, clear=out, timeout=BUDGET_S).as_dict()
        runs["agreement cuda vs cpu"] = compare(WORK / f"gpu-{method}-cuda", WORK / f"gpu-{method}-cpu")
        result["methods"][method] = runs
        (ROOT / "docs" / "performance_gpu.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
