"""MergeStrategy.aggregate_train: FedAvg equality for linear, merge_state_dicts equality for ties / dare_ties."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("flwr")

from flwr.app import ArrayRecord
from flwr.serverapp.strategy import FedAvg

from modelfusion import merge_state_dicts
from modelfusion.errors import RecipeError
from modelfusion.federated import MergeStrategy
from tests.federated.helpers import clients, reply, state

COUNTS = [10, 30, 60]


def _round(strategy, global_sd, sds, counts=COUNTS, server_round=1):
    strategy.global_arrays = ArrayRecord(global_sd)
    replies = [reply(sd, n, node=i + 1) for i, (sd, n) in enumerate(zip(sds, counts))]
    return strategy.aggregate_train(server_round, replies)


def test_linear_equals_flower_fedavg():
    g = state(0)
    sds = clients(g)
    ours, metrics = _round(MergeStrategy(method="linear"), g, sds)
    theirs, _ = _round(FedAvg(), g, sds)
    a, b = ours.to_torch_state_dict(), theirs.to_torch_state_dict()
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst <= 1e-6, worst
    assert metrics["rejected"] == 0
    assert 0.0 <= metrics["sign-conflict"] <= 1.0
    assert len(metrics["update-norms"]) == 3


@pytest.mark.parametrize(
    ("method", "params"),
    [("ties", {"density": 0.5}), ("dare_ties", {"density": 0.7}), ("task_arithmetic", {"lambda": 0.8})],
)
def test_task_vector_methods_equal_merge_state_dicts(method, params):
    g = state(1)
    sds = clients(g, seed=20)
    strategy = MergeStrategy(method=method, method_params=params, random_seed=5)
    ours, _ = _round(strategy, g, sds, server_round=2)
    weights = [n / sum(COUNTS) for n in COUNTS]
    expected = merge_state_dicts(sds, method, base=g, weight=weights, random_seed=5 + 2, **params)
    got = ours.to_torch_state_dict()
    for k in expected:
        torch.testing.assert_close(got[k], expected[k], rtol=0, atol=1e-6)


def test_method_params_weight_overrides_example_counts():
    g = state(2)
    sds = clients(g, seed=30)
    ours, _ = _round(MergeStrategy(method="linear", method_params={"weight": [1, 1, 1]}), g, sds)
    mean = {k: sum(sd[k] for sd in sds) / 3 for k in g}
    for k, v in ours.to_torch_state_dict().items():
        torch.testing.assert_close(v, mean[k], rtol=0, atol=1e-6)


def test_clip_norm_bounds_each_update():
    g = state(3)
    sds = clients(g, seed=40)
    sds[2] = {k: g[k] + 100.0 * (v - g[k]) for k, v in sds[2].items()}  # a huge update
    ours, metrics = _round(MergeStrategy(method="linear", clip_norm=0.5), g, sds)
    assert metrics["clipped"] >= 1
    new = ours.to_torch_state_dict()
    step = sum(float(((new[k] - g[k]) ** 2).sum()) for k in g) ** 0.5
    assert step <= 0.5 + 1e-5  # a convex combination of updates of norm <= 0.5


def test_unknown_method_and_statistics_methods_are_refused():
    with pytest.raises(RecipeError, match="did you mean"):
        MergeStrategy(method="tiez")
    with pytest.raises(RecipeError, match="statistics"):
        MergeStrategy(method="fisher")
    with pytest.raises(RecipeError, match="no parameter"):
        MergeStrategy(method="ties", method_params={"t": 0.5})
