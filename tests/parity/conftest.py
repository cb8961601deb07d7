"""Session fixtures for the mergekit equivalence suite: models built once, mergekit run once (one process for
every recipe), shared by pytest-xdist workers through a file lock."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
from filelock import FileLock

from tests.parity.harness import MERGEKIT_MULTI, MERGEKIT_YAML, build_models, run_mergekit
from tests.parity.recipes import ALL

SKIP_REASON = f"mergekit 0.1.5 is not installed: no {MERGEKIT_YAML} (run `make peers`)"


def pytest_collection_modifyitems(config, items):
    if MERGEKIT_YAML.exists() and MERGEKIT_MULTI.exists():
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if "mergekit" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory) -> Path:
    """A folder shared by every xdist worker of this run."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    path = root / "mergekit_parity"
    path.mkdir(exist_ok=True)
    return path


def _once(shared: Path, name: str, make):
    """Run `make()` in one worker; the others wait and read its JSON result."""
    done = shared / f"{name}.json"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.exists():
            done.write_text(json.dumps(make()), encoding="utf-8")
    return json.loads(done.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def parity_models(shared_dir) -> dict[str, Path]:
    made = _once(shared_dir, "models", lambda: {k: str(v) for k, v in build_models(shared_dir / "models").items()})
    return {k: Path(v) for k, v in made.items()}


@pytest.fixture(scope="session")
def mergekit_outputs(shared_dir, parity_models) -> dict[str, Path]:
    recipes = ALL

    def make():
        outs = run_mergekit(recipes, parity_models, shared_dir / "mergekit")
        return {k: str(v) for k, v in outs.items()}

    return {k: Path(v) for k, v in _once(shared_dir, "mergekit_outputs", make).items()}


@pytest.fixture(scope="session")
def modelfusion_dir(shared_dir) -> Path:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    path = shared_dir / f"modelfusion_{worker}"
    path.mkdir(exist_ok=True)
    return path


SEEDS = 48


@pytest.fixture(scope="session")
def seed_runs(shared_dir, parity_models) -> dict:
    """{"inputs": spec, "mergekit": {name: [seeds, ...]}}: one tensor merged SEEDS times per random method."""
    from safetensors.torch import load_file

    tensor = "model.layers.0.mlp.gate_proj.weight"
    spec = {
        "base": load_file(str(parity_models["base"] / "model.safetensors"))[tensor],
        "models": [load_file(str(parity_models[f"ft{i}"] / "model.safetensors"))[tensor] for i in (1, 2, 3)],
        "recipes": {
            "dare_linear": ("dare_linear", {"weight": [1.0] * 3, "density": [0.3] * 3}),
            "dare_ties": ("dare_ties", {"weight": [1.0] * 3, "density": [0.3] * 3}),
            "della_linear": ("della_linear", {"weight": [1.0] * 3, "density": [0.3] * 3, "epsilon": [0.2] * 3}),
            "della": ("della", {"weight": [1.0] * 3, "density": [0.3] * 3, "epsilon": [0.2] * 3}),
        },
        "seeds": list(range(SEEDS)),
    }
    src, dst = shared_dir / "seeds_in.pt", shared_dir / "seeds_out.pt"

    def make():
        torch.save(spec, src)
        python = MERGEKIT_YAML.with_name("python")
        driver = Path(__file__).with_name("mergekit_seeds_driver.py")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
        done = subprocess.run([str(python), str(driver), str(src), str(dst)], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"mergekit seed driver failed:\n{done.stderr[-3000:]}")
        return {"ok": True}

    _once(shared_dir, "seed_runs", make)
    return {"inputs": spec, "mergekit": torch.load(dst)}
