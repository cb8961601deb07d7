"""Store and load fitted ensembles with skops, not pickle: a file can only name types, never carry code to run.

Loading computes the file's non-default types with `skops.io.get_untrusted_types` and accepts each only if it is one
of our ensemble classes or a class defined in scikit-learn (resolved by importing from `sklearn.*` only); functions
and anything else are refused with one line naming the type, before anything is built. Saving runs the same check
first, so whatever is written can be loaded. Pretrained members (torch modules, Hugging Face folders, callables)
cannot be stored by skops without pickling: they are refused by name.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from modelfusion.errors import UserError

ENSEMBLE_TYPES = frozenset(
    f"modelfusion.ensemble.{name}"
    for name in (
        "voting.VotingEnsemble",
        "stacking.StackingEnsemble",
        "regression.AveragingEnsembleRegressor",
        "regression.StackingEnsembleRegressor",
        "stack_features.StackFeatures",
        "torch_net.TorchNetClassifier",
        "torch_net.TorchNetRegressor",
    )
)


def is_trusted(type_name: str) -> bool:
    """One of our ensemble classes, or a class defined in scikit-learn (estimators and their fitted structures:
    trees, KD-trees, distance metrics, ...). Never a function; modules are imported from `sklearn.*` only."""
    if type_name in ENSEMBLE_TYPES:
        return True
    module_name, _, attr = type_name.rpartition(".")
    if not module_name.startswith("sklearn."):
        return False
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError):
        return False
    return isinstance(obj, type) and obj.__module__.split(".")[0] == "sklearn"


def checked_types(type_names: list[str], where: str) -> list[str]:
    """`type_names` if every one is trusted, else a UserError naming the first that is not."""
    for name in type_names:
        if not is_trusted(name):
            raise UserError(
                f"refusing to load: untrusted type {name!r} (only modelfusion ensembles and scikit-learn classes)",
                where=where,
            )
    return list(type_names)


def refuse_pretrained(ensemble: Any) -> None:
    """A UserError naming the first member skops cannot store without pickling, and what to do instead."""
    from modelfusion.ensemble.frozen import FrozenMember
    from modelfusion.ensemble.torch_net import _TorchNet

    for name, member in getattr(ensemble, "named_estimators_", {}).items():
        if isinstance(member, FrozenMember):
            raise UserError(
                f"member {name!r} is a pretrained {type(member).__name__}: it cannot be saved without pickling; "
                "keep pretrained models as their own folders and build the ensemble in Python, "
                "or use `modelfusion ensemble evaluate`"
            )
        if isinstance(member, _TorchNet) and member.module is not None:
            raise UserError(
                f"member {name!r} is a {type(member).__name__} with a custom `module` factory, which cannot be saved "
                "without pickling; use hidden_layer_sizes (the built-in MLP) to save it"
            )


def dump_ensemble(ensemble: Any, path: Path) -> list[str]:
    """Write the fitted ensemble to `path` with skops; returns its checked non-default types."""
    import skops.io as sio

    refuse_pretrained(ensemble)
    data = sio.dumps(ensemble)
    types = checked_types(sio.get_untrusted_types(data=data), "the fitted ensemble")
    path.write_bytes(data)
    return types


def load_ensemble(path: str | Path, expected_sha256: str | None = None) -> Any:
    """Load a fitted ensemble written by `dump_ensemble`; unknown types are refused before anything is built, then
    the file's sha256 is compared with `expected_sha256` (when given)."""
    import hashlib

    import skops.io as sio

    path = Path(path)
    where = str(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read the fitted ensemble: {e.strerror or e}", where=where) from None
    try:
        types = sio.get_untrusted_types(data=data)
    except Exception as e:  # a truncated or foreign file: skops raises zipfile/json/key errors
        raise UserError(f"not a skops file written by modelfusion ({type(e).__name__})", where=where) from None
    trusted = checked_types(types, where)
    if expected_sha256 is not None and hashlib.sha256(data).hexdigest() != expected_sha256:
        raise UserError("sha256 differs from manifest.json: the file was changed after it was written", where=where)
    try:
        return sio.loads(data, trusted=trusted)
    except Exception as e:
        raise UserError(f"cannot load the fitted ensemble ({type(e).__name__}: {e})", where=where) from None
