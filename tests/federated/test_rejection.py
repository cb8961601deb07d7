"""Malformed replies (NaN, wrong shape, missing key, bad count, client error) are rejected; the round completes."""

from __future__ import annotations

import logging

import pytest
import torch

pytest.importorskip("flwr")

from flwr.app import ArrayRecord

from modelfusion.federated import MergeStrategy
from tests.federated.helpers import clients, error_reply, reply, state


def _bad(g):
    nan = {k: v.clone() for k, v in g.items()}
    nan["layer.bias"][0] = float("nan")
    shaped = {k: v.clone() for k, v in g.items()}
    shaped["head.weight"] = torch.zeros(4, 6)
    missing = {k: v.clone() for k, v in g.items() if k != "layer.bias"}
    return {"non-finite": nan, "shape": shaped, "missing keys": missing}


@pytest.mark.parametrize("method", ["linear", "ties"])
def test_bad_replies_are_rejected_and_round_completes(method, caplog):
    g = state(0)
    good = clients(g, n=2)
    bad = _bad(g)
    replies = [reply(good[0], 10, node=1), reply(good[1], 30, node=2)]
    replies += [reply(sd, 20, node=10 + i) for i, sd in enumerate(bad.values())]
    replies.append(reply(good[0], 0, node=20))  # no examples
    replies.append(error_reply("boom", node=21))
    strategy = MergeStrategy(method=method)
    strategy.global_arrays = ArrayRecord(g)
    with caplog.at_level(logging.WARNING):
        arrays, metrics = strategy.aggregate_train(1, replies)
    assert arrays is not None
    assert metrics["rejected"] == 5
    reasons = {node: why for _, node, why in strategy.rejected}
    assert "non-finite" in reasons[10] and "shape" in reasons[11] and "missing keys" in reasons[12]
    assert "num-examples" in reasons[20] and "boom" in reasons[21]
    expected = MergeStrategy(method=method)
    expected.global_arrays = ArrayRecord(g)
    clean, _ = expected.aggregate_train(1, [reply(good[0], 10, node=1), reply(good[1], 30, node=2)])
    for k, v in clean.to_torch_state_dict().items():
        torch.testing.assert_close(arrays.to_torch_state_dict()[k], v, rtol=0, atol=0)


def test_all_rejected_keeps_the_global_model():
    g = state(0)
    strategy = MergeStrategy(method="linear")
    strategy.global_arrays = ArrayRecord(g)
    arrays, metrics = strategy.aggregate_train(1, [reply(sd, 5, node=i + 1) for i, sd in enumerate(_bad(g).values())])
    assert arrays is None and metrics["rejected"] == 3
