"""`ensemble fit` / `ensemble predict`: skops round trip, model card, refusal of untrusted types, user errors exit 2."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
import skops.io as sio
import torch
from sklearn.datasets import load_wine
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from typer.testing import CliRunner

from modelfusion.cli.main import app
from modelfusion.ensemble import TorchModuleClassifier, VotingEnsemble
from modelfusion.ensemble.build import build_ensemble
from modelfusion.ensemble.config import load_config
from modelfusion.ensemble.persist import dump_ensemble, load_ensemble
from modelfusion.errors import UserError

NAMES = ["barolo", "grignolino", "barbera"]
MEMBERS = """\
members:
  - {name: nb, type: sklearn, estimator: sklearn.naive_bayes.GaussianNB}
  - {name: tree, type: sklearn, estimator: sklearn.tree.DecisionTreeClassifier, params: {max_depth: 2, random_state: 0}}
  - {name: lr, type: sklearn, estimator: sklearn.linear_model.LogisticRegression, params: {max_iter: 2000},
     preprocess: [sklearn.preprocessing.StandardScaler]}
"""
STACKING = f"task: classification\ndata: {{path: wine.csv, label: label}}\n{MEMBERS}" + (
    "combiner: {type: stacking, cv: 3}\nevaluation: {folds: 3, seed: 0}\n"
)
VOTING_NET = """\
task: classification
data: {path: wine.csv, label: label, features: [f0, f1, f2, f3, f4, f5]}
members:
  - {name: nb, type: sklearn, estimator: sklearn.naive_bayes.GaussianNB}
  - {name: net, type: torch_net, params: {hidden_layer_sizes: [4], epochs: 5, random_state: 0}}
combiner: {type: logit_averaging, weights: [1, 2]}
"""


def run(*args: str):
    return CliRunner().invoke(app, ["ensemble", *map(str, args)])


def one_error_line(res) -> str:
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    return lines[0]


@pytest.fixture
def workdir(tmp_path):
    X, y = load_wine(return_X_y=True)
    with (tmp_path / "wine.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"f{i}" for i in range(X.shape[1])] + ["label"])
        for row, label in zip(X, y):
            w.writerow([repr(float(v)) for v in row] + [NAMES[label]])
    np.save(tmp_path / "wine.npy", X)
    (tmp_path / "stack.yaml").write_text(STACKING)
    (tmp_path / "net.yaml").write_text(VOTING_NET)
    return tmp_path


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def reference(workdir, name: str):
    """The same config fitted in this process, without the CLI or skops."""
    X, y = load_wine(return_X_y=True)
    cfg = load_config(workdir / name)
    cols = cfg.data.features
    X = np.ascontiguousarray(X[:, [int(c[1:]) for c in cols]]) if cols else X  # the layout CSV reading gives
    return build_ensemble(cfg, workdir / name).fit(X, np.asarray(NAMES)[y]), X


def test_stacking_round_trip_card_and_cv(workdir):
    res = run("fit", workdir / "stack.yaml", workdir / "out", "--cv")
    assert res.exit_code == 0, res.output
    out = workdir / "out"
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.yaml", "ensemble.skops", "manifest.json"]
    assert not [p for p in workdir.iterdir() if ".partial-" in p.name]
    res = run("predict", out, workdir / "wine.csv", "--proba", "-o", workdir / "pred.csv")
    assert res.exit_code == 0, res.output
    rows = read_csv(workdir / "pred.csv")
    ref, X = reference(workdir, "stack.yaml")
    assert [r["prediction"] for r in rows] == ref.predict(X).tolist()
    proba = np.array([[float(r[f"proba_{c}"]) for c in ref.classes_] for r in rows])
    np.testing.assert_array_equal(proba, ref.predict_proba(X))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["cv"]["folds"] == 3 and set(manifest["cv"]["members"]) == {"nb", "tree", "lr"}
    card = (out / "README.md").read_text()
    for text in ("| nb |", "| tree |", "| lr |", "Cross-validation (3-fold, accuracy", "scikit-learn:", "skops:"):
        assert text in card
    assert STACKING.strip() in card
    loaded = load_ensemble(out / "ensemble.skops", manifest["sha256"])
    np.testing.assert_array_equal(loaded.predict_proba(X), ref.predict_proba(X))


def test_torch_net_member_round_trip_and_npy_input(workdir):
    assert run("fit", workdir / "net.yaml", workdir / "out").exit_code == 0
    ref, X = reference(workdir, "net.yaml")
    np.save(workdir / "six.npy", X)
    res = run("predict", workdir / "out", workdir / "six.npy", "--proba")
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[0] == "prediction," + ",".join(f"proba_{c}" for c in ref.classes_)
    got = np.array([[float(v) for v in line.split(",")[1:]] for line in lines[1:]])
    np.testing.assert_array_equal(got, ref.predict_proba(X))
    from_csv = run("predict", workdir / "out", workdir / "wine.csv").output.strip().splitlines()
    assert from_csv[1:] == [line.split(",")[0] for line in lines[1:]]
    assert "torch:" in (workdir / "out" / "README.md").read_text()


def test_tampered_file_with_untrusted_type_is_refused(workdir):
    assert run("fit", workdir / "stack.yaml", workdir / "out").exit_code == 0
    evil = make_pipeline(FunctionTransformer(os.getcwd))
    sio.dump(evil, workdir / "out" / "ensemble.skops")
    line = one_error_line(run("predict", workdir / "out", workdir / "wine.csv"))
    assert "ensemble.skops" in line and "untrusted type" in line and "getcwd" in line
    with pytest.raises(UserError, match="untrusted type"):
        load_ensemble(workdir / "out" / "ensemble.skops")


def test_changed_file_of_trusted_types_fails_the_hash(workdir):
    assert run("fit", workdir / "stack.yaml", workdir / "out").exit_code == 0
    X, y = load_wine(return_X_y=True)
    sio.dump(GaussianNB().fit(X, y), workdir / "out" / "ensemble.skops")
    assert "sha256 differs" in one_error_line(run("predict", workdir / "out", workdir / "wine.csv"))


def test_pretrained_members_are_refused_by_name(workdir, tmp_path):
    hf = VOTING_NET.replace(
        "  - {name: net, type: torch_net",
        "  - {name: bert, type: hf, path: models/bert}\n  - {name: net, type: torch_net",
    ).replace("weights: [1, 2]", "weights: [1, 1, 2]")
    (workdir / "hf.yaml").write_text(hf)
    line = one_error_line(run("fit", workdir / "hf.yaml", workdir / "out"))
    assert "members.bert" in line and "without pickling" in line and "hf.yaml" in line
    assert not (workdir / "out").exists()
    X, y = load_wine(return_X_y=True)
    module = torch.nn.Linear(13, 3).double()
    ens = VotingEnsemble([("nb", GaussianNB()), ("pre", TorchModuleClassifier(module, [0, 1, 2]))]).fit(X, y)
    with pytest.raises(UserError, match="member 'pre' is a pretrained TorchModuleClassifier"):
        dump_ensemble(ens, tmp_path / "x.skops")
    assert not (tmp_path / "x.skops").exists()


def test_user_errors_exit_2(workdir):
    assert run("fit", workdir / "stack.yaml", workdir / "out").exit_code == 0
    assert "already exists" in one_error_line(run("fit", workdir / "stack.yaml", workdir / "out"))
    assert run("fit", workdir / "stack.yaml", workdir / "out", "--overwrite").exit_code == 0
    assert "no manifest.json" in one_error_line(run("predict", workdir, workdir / "wine.csv"))
    assert "data file not found" in one_error_line(run("predict", workdir / "out", workdir / "nope.csv"))
    np.save(workdir / "bad.npy", np.zeros((3, 5)))
    assert "13 columns" in one_error_line(run("predict", workdir / "out", workdir / "bad.npy"))
    (workdir / "few.csv").write_text("f0,f1\n1,2\n")
    assert "no column 'f2'" in one_error_line(run("predict", workdir / "out", workdir / "few.csv"))
    hard = STACKING.replace("{type: stacking, cv: 3}", "{type: hard_voting}")
    (workdir / "hard.yaml").write_text(hard)
    assert run("fit", workdir / "hard.yaml", workdir / "hv").exit_code == 0
    assert "no probabilities" in one_error_line(run("predict", workdir / "hv", workdir / "wine.csv", "--proba"))
    (workdir / "out" / "ensemble.skops").write_bytes(b"not a zip")
    assert "not a skops file" in one_error_line(run("predict", workdir / "out", workdir / "wine.csv"))
