"""`ensemble fit CONFIG OUT` and `ensemble predict OUT DATA`: fit once, write a folder, predict from it later.

OUT/ holds `ensemble.skops` (the fitted ensemble, see `persist`), `manifest.json` (inputs, label, classes, sha256,
versions, CV summary), `config.yaml` (the config as given) and `README.md` (the model card). It is written in a
temporary folder beside OUT and renamed into place at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from modelfusion.errors import UserError

MODEL_FILE = "ensemble.skops"
MANIFEST = "manifest.json"
FORMAT = "modelfusion-ensemble/1"


def _refuse_hf_members(config: Any, where: str) -> None:
    from modelfusion.ensemble.config import HFMember

    for m in config.members:
        if isinstance(m, HFMember):
            raise UserError(
                f"members.{m.name}: a pretrained Hugging Face model cannot be saved without pickling; "
                "`ensemble fit` takes sklearn and torch_net members (use `ensemble evaluate` for this config)",
                where=where,
            )


def fit_config(config_path: str | Path, out: str | Path, cv: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Fit the ensemble of the config on all its data and write OUT/. Returns the manifest."""
    from modelfusion.ensemble.card import model_card, versions
    from modelfusion.ensemble.evaluate import cross_validate_config, prepare_config
    from modelfusion.ensemble.persist import dump_ensemble

    config_path, out = Path(config_path), Path(out)
    if out.exists() and not overwrite:
        raise UserError("already exists; choose another folder or pass --overwrite", where=str(out))
    from modelfusion.ensemble.config import load_config

    _refuse_hf_members(load_config(config_path), str(config_path))
    config, data, ensemble = prepare_config(config_path)
    d = config.data
    data_path = Path(d.path) if Path(d.path).is_absolute() else config_path.parent / d.path
    summary = cross_validate_config(config, data, ensemble, str(data_path)).summary() if cv else None
    ensemble.fit(data.X, data.y)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "task": config.task,
        "combiner": config.combiner.type,
        "members": [m.name for m in config.members],
        "config": config_path.name,
        "data": data_path.name,
        "n_train": len(data.y),
        "label": d.label,
        "input": {"text": d.text, "features": [] if data.is_text else list(data.feature_names)},
        "classes": np.asarray(ensemble.classes_).tolist() if hasattr(ensemble, "classes_") else None,
        "cv": summary,
        "versions": versions(with_torch=any(m.type == "torch_net" for m in config.members)),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        manifest["types"] = dump_ensemble(ensemble, tmp / MODEL_FILE)
        manifest["sha256"] = hashlib.sha256((tmp / MODEL_FILE).read_bytes()).hexdigest()
        config_text = config_path.read_text(encoding="utf-8")
        (tmp / "config.yaml").write_text(config_text, encoding="utf-8")
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(model_card(manifest, ensemble, config_text), encoding="utf-8")
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _publish(tmp: Path, out: Path) -> None:
    """Rename tmp to out; an existing out (only with --overwrite) is moved aside first and removed after."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()


def read_manifest(folder: Path) -> dict[str, Any]:
    where = str(folder / MANIFEST)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            "no manifest.json: not a folder written by `modelfusion ensemble fit`", where=str(folder)
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"unreadable manifest: {e}", where=where) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UserError(f"not a {FORMAT} manifest", where=where)
    return manifest


def predict_folder(
    folder: str | Path, data_path: str | Path, proba: bool = False
) -> tuple[np.ndarray, np.ndarray | None, list[Any] | None]:
    """Load OUT/ and predict the rows of DATA. Returns (predictions, probabilities or None, classes or None)."""
    from modelfusion.ensemble.data import load_features
    from modelfusion.ensemble.persist import load_ensemble

    folder = Path(folder)
    manifest = read_manifest(folder)
    ensemble = load_ensemble(folder / MODEL_FILE, expected_sha256=manifest.get("sha256"))
    X = load_features(data_path, manifest["input"]["text"], manifest["input"]["features"])
    predictions = ensemble.predict(X)
    if not proba:
        return predictions, None, None
    if not hasattr(ensemble, "predict_proba"):
        raise UserError(f"a {manifest['combiner']} ensemble gives no probabilities; drop --proba", where=str(folder))
    return predictions, ensemble.predict_proba(X), manifest["classes"]
