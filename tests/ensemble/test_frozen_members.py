"""Pretrained members are never copied by clone, never refitted, and their outputs are the model's own."""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from modelfusion.ensemble import StackingEnsemble, TorchModuleClassifier, VotingEnsemble


class CountingNet(torch.nn.Module):
    """A linear classifier that counts deep copies and forward calls."""

    deepcopies = 0

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(n_in, n_out)

    def forward(self, x):
        return self.lin(x)

    def __deepcopy__(self, memo):
        CountingNet.deepcopies += 1
        new = CountingNet.__new__(CountingNet)
        torch.nn.Module.__init__(new)
        new.lin = copy.deepcopy(self.lin, memo)
        return new


def test_torch_member_outputs_log_softmax_of_module(wine):
    X = wine[0]
    net = CountingNet(X.shape[1], 3)
    member = TorchModuleClassifier(net, classes=[0, 1, 2])
    with torch.no_grad():
        expected = torch.log_softmax(net(torch.as_tensor(X, dtype=torch.float32)).double(), 1).numpy()
    np.testing.assert_allclose(member.predict_log_proba(X), expected, rtol=1e-6)
    assert net.training  # train/eval mode restored


def test_clone_and_cross_validation_never_copy_a_pretrained_module(wine):
    X, y = wine
    net = CountingNet(X.shape[1], 3)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    member = TorchModuleClassifier(net, classes=[0, 1, 2])
    CountingNet.deepcopies = 0
    for ens in (
        VotingEnsemble([("net", member), ("lr", LogisticRegression(max_iter=300))], voting="soft"),
        StackingEnsemble([("net", member), ("lr", LogisticRegression(max_iter=300))], cv=3),
    ):
        cloned = clone(ens)
        assert cloned.estimators[0][1] is member and cloned.estimators[0][1].module is net
        scores = cross_val_score(ens, X, y, cv=3)
        assert scores.mean() > 0.8
    assert CountingNet.deepcopies == 0
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)  # never refitted
