"""`modelfusion federated simulate` of the `text` task: a tiny random BERT + head, 3 clients × 2 rounds on Ray,
one client malicious; the global model is an HF folder the evaluate layer opens and scores as the run did.

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
pytest.importorskip("transformers")

from tests.evaluate.tiny_text import save_tiny_encoder
from tests.federated.tiny_data import text_rows, write_jsonl

CONFIG = """\
task: text
data: {path: tiny.jsonl}
model: {path: enc, train: all}
clients: 3
rounds: 2
seed: 0
partition: {kind: dirichlet, alpha: 0.5}
local: {epochs: 2, lr: 0.003, batch_size: 16, optimizer: adamw}
strategy: {name: merge, method: ties, method_params: {density: 0.8}, clip_norm: 5.0}
malicious: {clients: [1], scale: -10.0}
ray: {num_cpus_per_client: 1, num_cpus: 1}
"""


def test_text_task_three_clients_two_rounds(tmp_path):
    from safetensors.torch import load_file

    from modelfusion.evaluate import load_encoder, load_head, predict
    from modelfusion.federated.config import load_config
    from modelfusion.federated.data import read_text

    save_tiny_encoder(tmp_path / "enc")
    write_jsonl(tmp_path / "tiny.jsonl", text_rows(per_class=40))
    (tmp_path / "fed.yaml").write_text(CONFIG)
    out = tmp_path / "global"
    env = {**os.environ, "FLWR_TELEMETRY_ENABLED": "0", "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0"}
    cmd = [sys.executable, "-m", "modelfusion.cli.main", "federated", "simulate", "fed.yaml", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=170, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "head.safetensors", "tokenizer.json", "README.md"} <= names
    assert {"history.json", "federated_config.yaml"} <= names

    encoder = load_file(out / "model.safetensors")
    head, _ = load_head(out / "head.safetensors")
    model_bytes = sum(t.numel() * t.element_size() for t in [*encoder.values(), *head.parameters()])
    arrays = len(encoder) + 2
    history = json.loads((out / "history.json").read_text())
    assert [r["round"] for r in history["rounds"]] == [1, 2]
    for r in history["rounds"]:
        assert r["bytes_sent"] == r["bytes_received"]  # 3 copies of the model each way, as .npy (header <= 256 B)
        assert 3 * model_bytes < r["bytes_sent"] <= 3 * (model_bytes + 256 * arrays)
        norms = sorted(r["train_metrics"]["update-norms"])
        assert norms[2] > 3 * norms[1]  # the malicious client's update: 10x its own, reversed
        assert r["train_metrics"]["clipped"] >= 1

    # the saved folder scores as the run's last evaluation did
    data = read_text(load_config(tmp_path / "fed.yaml").data, 0)
    pred = predict(load_encoder(out), head, data.test)
    accuracy = sum(p == y for p, y in zip(pred, data.test_y)) / len(pred)
    assert abs(accuracy - history["final_accuracy"]) <= 1 / len(pred) + 1e-9
    card = (out / "README.md").read_text()
    assert "`ties`" in card and "for 2 rounds" in card and "malicious clients [1]" in card and "tiny.jsonl" in card
