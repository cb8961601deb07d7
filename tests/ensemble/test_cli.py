"""`modelfusion ensemble evaluate`: numbers equal scikit-learn's own CV of the same ensemble; user errors exit 2."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier
from typer.testing import CliRunner

from modelfusion.cli.main import app

CONFIG = """\
task: classification
data: {path: wine.csv, label: label}
members:
  - {name: nb, type: sklearn, estimator: sklearn.naive_bayes.GaussianNB}
  - {name: tree, type: sklearn, estimator: sklearn.tree.DecisionTreeClassifier, params: {max_depth: 2, random_state: 0}}
combiner: {type: stacking, cv: 3, final_estimator: {estimator: sklearn.linear_model.LogisticRegression,
           params: {max_iter: 2000}}}
evaluation: {folds: 3, seed: 0}
"""


@pytest.fixture
def workdir(tmp_path):
    X, y = load_wine(return_X_y=True)
    with (tmp_path / "wine.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"f{i}" for i in range(X.shape[1])] + ["label"])
        for row, label in zip(X, y):
            w.writerow([repr(float(v)) for v in row] + [["barolo", "grignolino", "barbera"][label]])
    (tmp_path / "ens.yaml").write_text(CONFIG)
    return tmp_path


def test_evaluate_matches_sklearn_cross_validation(workdir):
    res = CliRunner().invoke(
        app, ["ensemble", "evaluate", str(workdir / "ens.yaml"), "--json", str(workdir / "o.json")]
    )
    assert res.exit_code == 0, res.output
    assert "ensemble" in res.output and "nb" in res.output and "gain over best member" in res.output
    out = json.loads((workdir / "o.json").read_text())
    X, y = load_wine(return_X_y=True)
    y = np.array(["barolo", "grignolino", "barbera"])[y]
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    members = [("nb", GaussianNB()), ("tree", DecisionTreeClassifier(max_depth=2, random_state=0))]
    ref = StackingClassifier(members, LogisticRegression(max_iter=2000), cv=3)
    assert out["ensemble"]["mean"] == pytest.approx(cross_val_score(ref, X, y, cv=cv).mean(), abs=1e-12)
    assert out["members"]["nb"]["mean"] == pytest.approx(cross_val_score(GaussianNB(), X, y, cv=cv).mean(), abs=1e-12)
    assert sum(m["share"] for m in out["members"].values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.replace("evaluation:", "evalution:"), "evalution"),
        (lambda c: c.replace("wine.csv", "missing.csv"), "data file not found"),
        (lambda c: c.replace("label: label", "label: quality"), "no column 'quality'"),
        (lambda c: c.replace("sklearn.naive_bayes.GaussianNB", "os.system"), "scikit-learn class path"),
        (lambda c: c.replace("type: stacking", "type: bagging"), "combiner.type"),
        (lambda c: c.replace("{folds: 3", "{folds: 3, metric: acuracy"), "unknown scikit-learn metric"),
        (lambda c: c + "  - [unclosed\n", "invalid YAML"),
    ],
)
def test_user_errors_are_one_line_exit_2(workdir, edit, message):
    cfg = workdir / "ens.yaml"
    cfg.write_text(edit(CONFIG))
    res = CliRunner().invoke(app, ["ensemble", "evaluate", str(cfg)])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert ("missing.csv" in res.output) or ("ens.yaml" in res.output) or ("wine.csv" in res.output)


def test_text_data_from_jsonl(workdir, tiny_text_classifier):
    rows = [{"text": t, "label": int(i % 2)} for i, t in enumerate(["good film", "bad film"] * 6)]
    (workdir / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (workdir / "t.yaml").write_text(
        f"""data: {{path: t.jsonl, label: label, text: text}}
members:
  - {{name: bert, type: hf, path: {tiny_text_classifier}, classes: [0, 1]}}
  - {{name: bow, type: sklearn, estimator: sklearn.linear_model.LogisticRegression,
     preprocess: [sklearn.feature_extraction.text.CountVectorizer]}}
combiner: {{type: logit_averaging, weights: [1, 4]}}
evaluation: {{folds: 2}}
"""
    )
    res = CliRunner().invoke(app, ["ensemble", "evaluate", str(workdir / "t.yaml")])
    assert res.exit_code == 0, res.output
    assert "bert" in res.output and "bow" in res.output
