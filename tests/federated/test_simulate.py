"""`modelfusion federated simulate`: a 3-client, 2-round Flower simulation (Ray backend) of the tiny task.

One simulation per process (Flower and Ray keep process-wide state), so the CLI runs in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("flwr")
pytest.importorskip("ray")

CONFIG = """\
task: tiny
clients: 3
rounds: 2
seed: 0
partition: {kind: dirichlet, alpha: 0.5}
strategy: {name: merge, method: ties, method_params: {density: 0.8}, clip_norm: 5.0}
ray: {num_cpus_per_client: 1, num_cpus: 1}
"""


def test_three_clients_two_rounds_writes_the_global_model(tmp_path):
    cfg = tmp_path / "fed.yaml"
    cfg.write_text(CONFIG)
    out = tmp_path / "global"
    env = {**os.environ, "FLWR_TELEMETRY_ENABLED": "0", "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0"}
    cmd = [sys.executable, "-m", "modelfusion.cli.main", "federated", "simulate", str(cfg), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=170, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "round 1: accuracy" in proc.stderr and "round 2: accuracy" in proc.stderr
    assert {"model.safetensors", "config.json", "README.md", "history.json", "federated_config.yaml"} <= {
        p.name for p in out.iterdir()
    }
    history = json.loads((out / "history.json").read_text())
    assert [r["round"] for r in history["rounds"]] == [1, 2]
    for r in history["rounds"]:
        assert r["bytes_sent"] == r["bytes_received"] > 0  # 3 copies of the model each way
        assert r["train_metrics"]["rejected"] == 0 and len(r["train_metrics"]["update-norms"]) == 3
    assert history["final_accuracy"] > history["initial_accuracy"] + 0.2
    card = (out / "README.md").read_text()
    assert "MergeStrategy" in card and "`ties`" in card and "for 2 rounds" in card
    from safetensors.torch import load_file

    assert set(load_file(out / "model.safetensors")) == {"0.weight", "0.bias", "2.weight", "2.bias"}
