"""Cross-validated ensembles vs their best member on scikit-learn's bundled data sets, next to scikit-learn's own
VotingClassifier / StackingClassifier on the very same members and folds.

    .venv/bin/python bench/ensembles/run.py   # writes docs/ensembles-results.json + the table in docs/ensembles.md

Outer loop: 5-fold StratifiedKFold (shuffled, seed 0). Within a fold every ensemble is fitted on the training part and
scored on the held-out part; stacking trains its meta-learner on inner 5-fold out-of-fold predictions.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.ensemble import (
    AdaBoostClassifier,
    BaggingClassifier,
    RandomForestClassifier,
    StackingClassifier,
    VotingClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelfusion.ensemble import StackingEnsemble, TorchNetClassifier, VotingEnsemble

ROOT = Path(__file__).resolve().parents[2]
DATASETS = {"wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}  # cheapest first


def members(seed: int, net_epochs: int) -> list[tuple[str, object]]:
    return [
        ("logreg", make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))),
        ("knn", make_pipeline(StandardScaler(), KNeighborsClassifier(7))),
        ("forest", RandomForestClassifier(n_estimators=60, random_state=seed)),
        ("naive_bayes", GaussianNB()),
        ("torch_mlp", TorchNetClassifier(hidden_layer_sizes=(64,), epochs=net_epochs, random_state=seed)),
    ]


def run_dataset(name: str, folds: int, seed: int, net_epochs: int, boost_rounds: int) -> dict:
    X, y = DATASETS[name](return_X_y=True)
    base = members(seed, net_epochs)
    net = dict(base)["torch_mlp"]
    scores: dict[str, list[float]] = {}
    max_diff = {"soft_voting": 0.0, "hard_voting_predictions_differ": 0, "stacking": 0.0}
    started = time.perf_counter()
    outer = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for k, (tr, te) in enumerate(outer.split(X, y)):
        Xtr, ytr, Xte, yte = X[tr], y[tr], X[te], y[te]

        def add(key: str, value: float) -> None:
            scores.setdefault(key, []).append(float(value))

        ours = VotingEnsemble(base, voting="soft").fit(Xtr, ytr)  # members fitted once, three combiners
        for mname, m in ours.named_estimators_.items():
            add(f"member:{mname}", m.score(Xte, yte))
        p_soft = ours.predict_proba(Xte)
        add("modelfusion:soft_voting", ours.score(Xte, yte))
        add("modelfusion:logit_averaging", ours.set_params(voting="logit").score(Xte, yte))
        hard_pred = ours.set_params(voting="hard").predict(Xte)
        add("modelfusion:hard_voting", np.mean(hard_pred == yte))

        ref = VotingClassifier(base, voting="soft").fit(Xtr, ytr)
        add("sklearn:VotingClassifier(soft)", ref.score(Xte, yte))
        max_diff["soft_voting"] = max(max_diff["soft_voting"], float(np.abs(ref.predict_proba(Xte) - p_soft).max()))
        ref.voting = "hard"
        add("sklearn:VotingClassifier(hard)", ref.score(Xte, yte))
        max_diff["hard_voting_predictions_differ"] += int((ref.predict(Xte) != hard_pred).sum())

        stack = StackingEnsemble(base, LogisticRegression(max_iter=2000), cv=5).fit(Xtr, ytr)
        add("modelfusion:stacking", stack.score(Xte, yte))
        ref_stack = StackingClassifier(base, LogisticRegression(max_iter=2000), cv=5).fit(Xtr, ytr)
        add("sklearn:StackingClassifier", ref_stack.score(Xte, yte))
        diff = np.abs(ref_stack.predict_proba(Xte) - stack.predict_proba(Xte)).max()
        max_diff["stacking"] = max(max_diff["stacking"], float(diff))

        bag = BaggingClassifier(clone(net), n_estimators=boost_rounds, random_state=seed).fit(Xtr, ytr)
        add("sklearn:Bagging(torch_mlp)", bag.score(Xte, yte))
        small = clone(net).set_params(hidden_layer_sizes=(8,), epochs=max(10, net_epochs // 4))
        boost = AdaBoostClassifier(small, n_estimators=boost_rounds, random_state=seed).fit(Xtr, ytr)
        add("member:torch_mlp_small", clone(small).fit(Xtr, ytr).score(Xte, yte))
        add("sklearn:AdaBoost(torch_mlp_small)", boost.score(Xte, yte))
        print(f"  {name} fold {k + 1}/{folds} done ({time.perf_counter() - started:.0f} s)", flush=True)
    summary = {key: {"mean": float(np.mean(v)), "std": float(np.std(v)), "folds": v} for key, v in scores.items()}
    member_keys = [k for k in summary if k.startswith("member:") and k != "member:torch_mlp_small"]
    best = max(member_keys, key=lambda k: summary[k]["mean"])
    return {
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "n_classes": len(np.unique(y)),
        "scores": summary,
        "best_member": best.split(":", 1)[1],
        "max_abs_diff_vs_sklearn": max_diff,
        "seconds": round(time.perf_counter() - started, 1),
    }


ROWS = [
    ("best member", None),
    ("soft voting", "modelfusion:soft_voting"),
    ("  sklearn VotingClassifier(soft)", "sklearn:VotingClassifier(soft)"),
    ("hard voting", "modelfusion:hard_voting"),
    ("  sklearn VotingClassifier(hard)", "sklearn:VotingClassifier(hard)"),
    ("logit averaging", "modelfusion:logit_averaging"),
    ("stacking (LogReg meta, OOF cv=5)", "modelfusion:stacking"),
    ("  sklearn StackingClassifier", "sklearn:StackingClassifier"),
    ("torch MLP alone", "member:torch_mlp"),
    ("bagged torch MLP (sklearn BaggingClassifier)", "sklearn:Bagging(torch_mlp)"),
    ("small torch MLP alone", "member:torch_mlp_small"),
    ("boosted small torch MLP (sklearn AdaBoostClassifier)", "sklearn:AdaBoost(torch_mlp_small)"),
]


def markdown_table(results: dict) -> str:
    names = list(results["datasets"])
    head = "| accuracy (5-fold CV, mean ± std) | " + " | ".join(names) + " |\n|---|" + "---|" * len(names) + "\n"
    lines = []
    for label, key in ROWS:
        cells = []
        for d in names:
            r = results["datasets"][d]
            k = f"member:{r['best_member']}" if key is None else key
            s = r["scores"][k]
            extra = f" ({r['best_member']})" if key is None else ""
            cells.append(f"{s['mean']:.4f} ± {s['std']:.4f}{extra}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    member_rows = sorted({k for d in names for k in results["datasets"][d]["scores"] if k.startswith("member:")})
    for key in member_rows:
        if key in ("member:torch_mlp", "member:torch_mlp_small"):
            continue
        cells = [f"{results['datasets'][d]['scores'][key]['mean']:.4f}" for d in names]
        lines.append(f"| member {key.split(':', 1)[1]} | " + " | ".join(cells) + " |")
    diffs = [
        f"{d}: soft {results['datasets'][d]['max_abs_diff_vs_sklearn']['soft_voting']:.1e}, "
        f"stacking {results['datasets'][d]['max_abs_diff_vs_sklearn']['stacking']:.1e}, "
        f"hard-vote disagreements {results['datasets'][d]['max_abs_diff_vs_sklearn']['hard_voting_predictions_differ']}"
        for d in names
    ]
    note = "\nLargest |p_modelfusion - p_sklearn| over all held-out rows: " + "; ".join(diffs) + ".\n"
    return head + "\n".join(lines) + "\n" + note


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--net-epochs", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=5, help="bagging / boosting rounds")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "ensembles-results.json")
    ap.add_argument("--doc", type=Path, default=ROOT / "docs" / "ensembles.md")
    args = ap.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    results = {
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "versions": {"python": platform.python_version(), "sklearn": sklearn.__version__, "torch": torch.__version__},
        "config": vars(args) | {"out": str(args.out), "doc": str(args.doc)},
        "datasets": {},
    }
    for name in args.datasets:
        print(f"{name} ...", flush=True)
        results["datasets"][name] = run_dataset(name, args.folds, args.seed, args.net_epochs, args.rounds)
        results["complete"] = len(results["datasets"]) == len(args.datasets)  # false: interrupted after this one
        results["seconds_total"] = round(time.perf_counter() - started, 1)
        tmp = args.out.with_name(args.out.name + ".partial")
        tmp.write_text(json.dumps(results, indent=2) + "\n")
        tmp.replace(args.out)
    table = markdown_table(results)
    print(table)
    if args.doc.exists():
        text = args.doc.read_text()
        block = f"<!-- results:start -->\n{table}\nReproduce: `.venv/bin/{results['command']}`\n<!-- results:end -->"
        text, n = re.subn(r"<!-- results:start -->.*?<!-- results:end -->", lambda _: block, text, flags=re.S)
        if n:
            args.doc.write_text(text)


if __name__ == "__main__":
    main()
