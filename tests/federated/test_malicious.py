"""The malicious-client option on the tiny task: the chosen client sends g + s·δ (s = −10), the others are honest;
clip_norm and Flower's FedMedian bound what it does to the global model, plain averaging does not."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("flwr")

from flwr.app import ArrayRecord
from flwr.serverapp.strategy import FedMedian

from modelfusion.federated import MergeStrategy
from modelfusion.federated.config import load_config
from modelfusion.federated.simulation import client_update
from modelfusion.federated.tasks import get_task
from tests.federated.helpers import reply

N = 5


def _dot(a, b):
    return sum(float((a[k] * b[k]).sum()) for k in a)


def _norm(a, b=None):
    """‖a − b‖₂ over all entries (‖a‖₂ without b)."""
    d = a if b is None else {k: a[k] - b[k] for k in a}
    return _dot(d, d) ** 0.5


@pytest.fixture(scope="module")
def round_one():
    """Round-1 client arrays of the tiny task with and without client 2 malicious, and the global model."""
    base = {"clients": N, "partition": {"kind": "iid"}, "local": {"lr": 0.1}}
    honest, evil = load_config(base), load_config({**base, "malicious": {"clients": [2], "scale": -10.0}})
    task = get_task(honest)
    g = {k: v.detach().clone() for k, v in task.state(task.new_model()).items()}
    h = [client_update(honest, g, c, N, 1) for c in range(N)]
    e = [client_update(evil, g, c, N, 1) for c in range(N)]
    return g, h, e


def test_only_the_chosen_client_is_scaled(round_one):
    g, honest, evil = round_one
    for c in range(N):
        (sd_h, n_h), (sd_e, n_e) = honest[c], evil[c]
        assert n_h == n_e
        for k in g:
            want = g[k] - 10.0 * (sd_h[k] - g[k]) if c == 2 else sd_h[k]
            torch.testing.assert_close(sd_e[k], want, rtol=0, atol=1e-6)


def _step(strategy, g, sds):
    """The global update Δ = g' − g of one aggregated round."""
    strategy.global_arrays = ArrayRecord(g)
    arrays, metrics = strategy.aggregate_train(1, [reply(sd, n, node=i + 1) for i, (sd, n) in enumerate(sds)])
    new = arrays.to_torch_state_dict()
    return {k: new[k] - g[k] for k in g}, metrics


def _cos(a, b):
    return _dot(a, b) / (_norm(a) * _norm(b))


def test_clip_norm_and_median_bound_the_global_update(round_one):
    g, honest, evil = round_one
    honest_norms = [_norm(sd, g) for sd, _ in honest]
    clean, _ = _step(MergeStrategy(method="linear"), g, honest)
    attacked, metrics = _step(MergeStrategy(method="linear"), g, evil)
    assert metrics["update-norms"][2] == pytest.approx(10 * honest_norms[2], rel=1e-4)
    assert _cos(attacked, clean) < 0  # plain averaging: one reversed, amplified update turns the round around

    c = max(honest_norms)
    clipped, metrics = _step(MergeStrategy(method="linear", clip_norm=c), g, evil)
    assert metrics["clipped"] == 1
    assert _norm(clipped) <= c + 1e-6  # a convex combination of updates of norm <= c
    assert _cos(clipped, clean) > 0.5

    # the coordinate-wise median of 4 honest updates and 1 outlier lies within the honest range of each coordinate
    median, _ = _step(FedMedian(), g, evil)
    assert _norm(median) <= sum(n**2 for n in honest_norms) ** 0.5
    assert _cos(median, clean) > 0.5
