"""Build the ensemble estimator a config describes. Estimator classes are imported from scikit-learn only."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from modelfusion.ensemble.config import EnsembleConfig, EstimatorSpec, HFMember, SklearnMember, TorchNetMember
from modelfusion.errors import UserError

ALLOWED_PREFIXES = ("sklearn.",)


def make_estimator(spec: str | EstimatorSpec, where: str) -> Any:
    """Import `spec.estimator` (a scikit-learn class path) and instantiate it with `spec.params`."""
    from sklearn.base import BaseEstimator

    if isinstance(spec, str):
        spec = EstimatorSpec(estimator=spec)
    module_name, _, cls_name = spec.estimator.rpartition(".")
    if not module_name.startswith(ALLOWED_PREFIXES):
        raise UserError(f"estimator {spec.estimator!r} must be a scikit-learn class path (sklearn.…)", where=where)
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError):
        raise UserError(f"no estimator class {spec.estimator!r}", where=where) from None
    if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
        raise UserError(f"{spec.estimator!r} is not a scikit-learn estimator class", where=where)
    try:
        return cls(**spec.params)
    except TypeError as e:
        raise UserError(f"bad params for {spec.estimator}: {e}", where=where) from None


def make_member(member: SklearnMember | TorchNetMember | HFMember, config_dir: Path, where: str) -> Any:
    key = f"{where}: members.{member.name}"
    if isinstance(member, HFMember):
        from modelfusion.ensemble.hf_member import HFTextClassifier

        path = Path(member.path) if Path(member.path).is_absolute() else config_dir / member.path
        if not (path / "config.json").is_file():
            raise UserError(f"members.{member.name}: no Hugging Face model folder at {path}", where=where)
        return HFTextClassifier(path, member.classes, batch_size=member.batch_size, max_length=member.max_length)
    if isinstance(member, TorchNetMember):
        from modelfusion.ensemble.torch_net import TorchNetClassifier

        params = dict(member.params)
        if "hidden_layer_sizes" in params:
            params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        try:
            return TorchNetClassifier(**params)
        except TypeError as e:
            raise UserError(f"bad params for torch_net: {e}", where=key) from None
    final = make_estimator(member, key)
    if not member.preprocess:
        return final
    from sklearn.pipeline import make_pipeline

    return make_pipeline(*(make_estimator(step, key) for step in member.preprocess), final)


def build_ensemble(config: EnsembleConfig, config_path: str | Path) -> Any:
    """The (unfitted) ensemble estimator of `config`; relative paths are relative to the config file."""
    from modelfusion.ensemble.regression import AveragingEnsembleRegressor, StackingEnsembleRegressor
    from modelfusion.ensemble.stacking import StackingEnsemble
    from modelfusion.ensemble.voting import VotingEnsemble

    where = str(config_path)
    config_dir = Path(config_path).parent
    members = [(m.name, make_member(m, config_dir, where)) for m in config.members]
    c = config.combiner
    final = make_estimator(c.final_estimator, f"{where}: combiner.final_estimator") if c.final_estimator else None
    if config.task == "regression":
        if c.type == "averaging":
            return AveragingEnsembleRegressor(members, weights=c.weights, n_jobs=c.n_jobs)
        return StackingEnsembleRegressor(members, final, cv=c.cv, passthrough=c.passthrough, n_jobs=c.n_jobs)
    if c.type == "stacking":
        return StackingEnsemble(members, final, cv=c.cv, passthrough=c.passthrough, n_jobs=c.n_jobs)
    voting = {"soft_voting": "soft", "hard_voting": "hard", "logit_averaging": "logit"}[c.type]
    return VotingEnsemble(members, voting=voting, weights=c.weights, n_jobs=c.n_jobs)
